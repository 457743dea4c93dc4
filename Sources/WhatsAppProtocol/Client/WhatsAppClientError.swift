/// Why a `WhatsAppClient` call could not be done.
public enum WhatsAppClientError: Error, Equatable, Sendable {
    /// There is no open connection.
    case notConnected
    /// The call needs a paired device.
    case notPaired
    /// A pairing code can only be asked for on a connection waiting to be paired.
    case notAwaitingPairing
    case pairingCode(PairingCode.Failure)
    /// Presence needs a push name (whatsmeow presence.go: ErrNoPushName).
    case noPushName
}
