/// Why a session became `disconnected`: its `reason` in `session.status` webhooks and
/// `disconnect_reason` in the session status. The WhatsApp reasons are named as whatsmeow names
/// them (`types/events/events.go`: `ConnectFailureReason`, `StreamReplaced`, the `device_removed`
/// conflict). Those that do not ``keepsAccount`` end the pairing and wipe the keys.
public enum DisconnectReason: String, Sendable, Equatable, CaseIterable, Codable {
    /// Logged out through the API or the admin panel, or WhatsApp answered `failure 401`.
    case loggedOut = "logged_out"
    /// The user removed the linked device on the phone (`stream:error` 401 `device_removed`).
    case deviceRemoved = "device_removed"
    /// The phone's account is gone from this device (`failure 403`, WhatsApp Web's LOCKED).
    case mainDeviceGone = "main_device_gone"
    /// `failure 406` (WhatsApp Web's BANNED, whatsmeow's unknown logout).
    case banned = "banned"
    /// `failure 402`: the account is banned for a while; the link is kept for the next start.
    case temporarilyBanned = "temporarily_banned"
    /// Another `failure` WhatsApp does not retry after, or no connection could be made while
    /// pairing; a linked account is kept for the next start.
    case connectionFailed = "connection_failed"
    /// Another client logged in with the same credentials (`stream:error` conflict `replaced`).
    case replaced = "replaced"
    /// `failure 405`: WhatsApp refuses the announced client version; `--wa-version` sets another.
    /// Credentials are kept: the session logs in again once the version is fixed.
    case outdatedClient = "outdated_client"
    /// Nobody scanned the QR (or typed the code) in time.
    case pairingExpired = "pairing_expired"
    /// WhatsApp's pairing refs ran out before the phone scanned (a fresh `GET /api/qr` starts over).
    case pairingRefsExhausted = "pairing_refs_exhausted"
    /// The `pair-success` WhatsApp sent failed a check (HMAC, account or device signature): the
    /// pairing is abandoned and nothing was stored; a new `GET /api/qr` starts over.
    case pairingRefused = "pairing_refused"
    /// The sandbox's phone dropped the linked device (`POST /api/sandbox/drop`).
    case droppedByPhone = "dropped_by_phone"

    /// Whether the device stays linked (credentials kept) and logs in again at the next start:
    /// the account is not gone, only this connection was refused.
    public var keepsAccount: Bool {
        switch self {
        case .outdatedClient, .temporarilyBanned, .connectionFailed: true
        default: false
        }
    }
}
