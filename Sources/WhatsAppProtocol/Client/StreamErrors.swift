import Foundation

/// What the client does after a `failure` or `stream:error` from the server, as whatsmeow
/// decides it (connectionevents.go: handleConnectFailure, handleStreamError).
public enum StreamVerdict: Sendable, Equatable {
    /// Connect again at once (`stream:error 515`).
    case restart
    /// Connect again after the back-off (`503`, failure `500`/`503`, unknown stream errors).
    case reconnect(ReconnectReason)
    /// The account is gone: wipe the state, do not reconnect.
    case loggedOut(LogoutReason)
    /// Another connection took over: do not reconnect, keep the state.
    case replaced
    /// `failure 405`: the WhatsApp Web version is too old; do not reconnect.
    case outdatedVersion
    /// `failure 402`: banned for `expiresIn`, with WhatsApp's reason code.
    case temporarilyBanned(code: Int, expiresIn: Duration)
    /// Any other failure: do not reconnect.
    case failed(reason: Int, message: String?)
}

public enum StreamErrors {
    /// `<failure reason=N …/>`, sent instead of `success`.
    public static func classify(failure node: BinaryNode) -> StreamVerdict {
        let reason = node.attributes.string("reason").flatMap { Int($0) } ?? 0
        switch reason {
        // events.go: ConnectFailureReason.IsLoggedOut.
        case 401: return .loggedOut(.loggedOut)
        case 403: return .loggedOut(.mainDeviceGone)
        case 406: return .loggedOut(.banned)
        case 402:
            let code = node.attributes.string("code").flatMap { Int($0) } ?? 0
            let expire = node.attributes.string("expire").flatMap { Int64($0) } ?? 0
            return .temporarilyBanned(code: code, expiresIn: .seconds(expire))
        case 405: return .outdatedVersion
        // whatsmeow reconnects by itself after these two only.
        case 500, 503: return .reconnect(.serviceUnavailable(code: reason))
        default: return .failed(reason: reason, message: node.attributes.string("message"))
        }
    }

    /// `<stream:error code=…>[<conflict type=…/>]</stream:error>`, after which the server
    /// closes the stream.
    public static func classify(streamError node: BinaryNode) -> StreamVerdict {
        let code = node.attributes.string("code")
        let conflict = node.child("conflict")?.attributes.string("type")
        if code == "515" { return .restart }
        if code == "401" && conflict == "device_removed" { return .loggedOut(.deviceRemoved) }
        if conflict == "replaced" { return .replaced }
        if code == "503" { return .reconnect(.serviceUnavailable(code: 503)) }
        return .reconnect(.streamError(code: code))
    }
}
