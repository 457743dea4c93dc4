import Foundation

/// The `unified_session` telemetry WhatsApp Web sends after pairing and with presence
/// `available` (whatsmeow client.go: sendUnifiedSession, getUnifiedSessionID):
/// `<ib><unified_session id=N/></ib>`, N = (server time + 3 days) in milliseconds modulo a week.
public enum UnifiedSession {
    static let offset: Duration = .seconds(3 * 24 * 3600)
    static let week: Int64 = 7 * 24 * 3600 * 1000

    public static func id(now: Date, serverTimeOffset: Duration) -> String {
        let milliseconds =
            Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
            + (serverTimeOffset + offset).components.seconds * 1000
            + (serverTimeOffset + offset).components.attoseconds / 1_000_000_000_000_000
        return String((milliseconds % week + week) % week)
    }

    public static func node(now: Date, serverTimeOffset: Duration) -> BinaryNode {
        BinaryNode(
            tag: "ib",
            children: [
                BinaryNode(tag: "unified_session", attributes: ["id": .string(id(now: now, serverTimeOffset: serverTimeOffset))])
            ])
    }
}
