import Foundation
import TestSupport

extension Data {
    init(hex: String) {
        var bytes = [UInt8]()
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        self.init(bytes)
    }

    var hex: String { map { String(format: "%02x", $0) }.joined() }
}

/// The python-axolotl peer (Tests/peers/signal_peer.py) with its state kept in a temporary
/// file, so one peer can take part in a conversation across several invocations.
struct SignalPeer: Sendable {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let stateFile: URL

    init() {
        stateFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("signal-peer-\(UUID().uuidString).pickle")
    }

    /// Runs a batch of commands and returns one result object per command; a command that
    /// failed inside the peer comes back as `["error": ...]`.
    func run(_ commands: [[String: any Sendable]]) async throws -> [[String: any Sendable]] {
        let input = try JSONSerialization.data(withJSONObject: commands)
        let output = try await PythonPeer.check("signal_peer.py", arguments: [stateFile.path], input: input)
        guard let results = try JSONSerialization.jsonObject(with: output) as? [[String: Any]] else {
            throw Failure(description: "peer output is not a list of objects: \(String(decoding: output, as: UTF8.self))")
        }
        return results.map { $0.mapValues { Self.sendable($0) } }
    }

    /// Runs one command and fails when the peer reports an error.
    func call(_ command: [String: any Sendable]) async throws -> [String: any Sendable] {
        let result = try await run([command])[0]
        if let error = result["error"] { throw Failure(description: "peer \(command["op"] ?? "?"): \(error)") }
        return result
    }

    private static func sendable(_ value: Any) -> any Sendable {
        switch value {
        case let string as String: return string
        case let number as NSNumber: return number.intValue
        case let list as [Any]: return list.map { sendable($0) }
        case let object as [String: Any]: return object.mapValues { sendable($0) }
        default: return String(describing: value)
        }
    }

    func remove() {
        try? FileManager.default.removeItem(at: stateFile)
    }
}

extension Dictionary where Key == String, Value == any Sendable {
    func bytes(_ key: String) -> Data? { (self[key] as? String).map(Data.init(hex:)) }
    /// JSON booleans arrive as numbers (Foundation cannot tell them apart on Linux).
    func bool(_ key: String) -> Bool? { (self[key] as? Int).map { $0 != 0 } }
    func int(_ key: String) -> Int? { self[key] as? Int }
}
