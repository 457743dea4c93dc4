import Foundation
import TestSupport

@testable import QRCode

/// The segno (reference encoder) and zxing-cpp (reference reader) peers in Tests/peers.
enum QRPeer {
    struct Symbol: Decodable {
        let version: Int
        let mask: Int
        let rows: [String]
    }

    struct Decoded: Decodable {
        let format: String
        let bytes: [UInt8]
        let text: String
        let ec_level: String
        let valid: Bool
        let version: String?
        let mask: Int?
        /// 1.0 when the reader found nothing to correct.
        let unused_error_correction: Double?
    }

    struct Tables: Decodable {
        let L, M, Q, H: [[Int]]
        let alignment: [[Int]]
    }

    static func segnoSymbol(_ payload: [UInt8], level: QRCode.ErrorCorrection, mask: Int?, version: Int?) async throws -> Symbol {
        let arguments = ["matrix", level.letter, mask.map(String.init) ?? "auto", version.map(String.init) ?? "auto"]
        return try await decode(Symbol.self, PythonPeer.check("qr_peer.py", arguments: arguments, input: Data(payload)))
    }

    static func segnoTables() async throws -> Tables {
        try await decode(Tables.self, PythonPeer.check("qr_peer.py", arguments: ["tables"]))
    }

    static func segnoErrorCorrection(_ data: [UInt8], degree: Int) async throws -> [UInt8] {
        struct Output: Decodable { let ec: [UInt8] }
        return try await decode(Output.self, PythonPeer.check("qr_peer.py", arguments: ["rs", String(degree)], input: Data(data))).ec
    }

    struct Scores: Decodable {
        /// segno's N1, N2, N3, N4.
        let segno: [Int]
        /// N3 counting every finder-like occurrence (segno's scan skips some overlapping ones).
        let n3_every_occurrence: Int

        /// The four rules as the standard states them: segno's N1, N2, N4 and the full N3 count.
        var rules: [Int] { [segno[0], segno[1], n3_every_occurrence, segno[3]] }
    }

    /// The penalty scores of each matrix.
    static func scores(_ matrices: [[String]]) async throws -> [Scores] {
        try await decode([Scores].self, PythonPeer.check("qr_peer.py", arguments: ["scores"], input: JSONEncoder().encode(matrices)))
    }

    static func zxingDecode(png: [UInt8]) async throws -> [Decoded] {
        try await decode([Decoded].self, PythonPeer.check("qr_decode.py", input: Data(png)))
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ data: Data) throws -> T {
        try JSONDecoder().decode(type, from: data)
    }
}

extension QRCode.ErrorCorrection {
    var letter: String {
        switch self {
        case .low: "L"
        case .medium: "M"
        case .quartile: "Q"
        case .high: "H"
        }
    }
}

extension QRCode {
    /// Rows of "0"/"1", the same shape the segno peer prints.
    var rows: [String] {
        (0..<size).map { y in String((0..<size).map { x in self[x, y] ? "1" : "0" }) }
    }
}

extension ModuleMatrix {
    var rows: [String] {
        (0..<size).map { y in String((0..<size).map { x in self[x, y] ? "1" : "0" }) }
    }
}

/// Payloads shaped like what the gateway shows: a WhatsApp pairing string (ref, noise
/// public key, identity public key, advertising secret) and a short link.
enum Payload {
    static let pairing =
        "2@Xq3vK8mZ0pLr7TnB4yWcQ9eHsJd1fGa6uViOxNk2RtYbMlEoPz5wSgCjDhFAUIq3vK8mZ0pLr7TnB4yWcQ9eHsJd1fGa6uViOxNk2RtY=="
        + ",Kd9s0Pq3vLr7TnB4yWcQ9eHsJd1fGa6uViOxNk2RtYb="
        + ",Zm3vK8mZ0pLr7TnB4yWcQ9eHsJd1fGa6uViOxNk2RtY="
        + ",p0Lr7TnB4yWcQ9eHsJd1fGa6uViOxNk2RtYbMlEoPz5="
    static let link = "https://wa.me/15551234567"
}
