import BuzzBridgeCore
import Foundation
import Logging
import Synchronization

/// Writes each log entry as one JSON object on one line of standard error, for log collectors:
/// `{"label":…,"level":…,"message":…,"metadata":{…},"source":…,"timestamp":…}`. Keys are sorted
/// and every line is complete before it is written, so lines from different threads never mix.
struct JSONLogHandler: LogHandler {
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    let label: String

    init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        var entry: [String: Any] = [
            "timestamp": Timestamp.now().iso8601,
            "level": event.level.rawValue,
            "label": label,
            "message": "\(event.message)",
            "source": event.source,
        ]
        if !merged.isEmpty { entry["metadata"] = merged.mapValues(Self.json) }
        guard var line = try? JSONSerialization.data(withJSONObject: entry, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        line.append(0x0A)
        Self.output.withLock { _ in FileHandle.standardError.write(line) }
    }

    private static let output = Mutex(())

    private static func json(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): "\(convertible)"
        case .array(let values): values.map(json)
        case .dictionary(let values): values.mapValues(json)
        }
    }
}
