/// The state of an `active` session's link to WhatsApp. The spec's `status` stays `active` while
/// the engine reconnects; this says whether it is talking to WhatsApp right now.
public enum SessionConnection: String, Sendable, Equatable, CaseIterable, Codable {
    /// Logged in.
    case connected
    /// The connection was lost (network, a server restart, `515`); credentials are kept and the
    /// engine is logging in again with a growing backoff.
    case reconnecting
}
