import Foundation

/// What a `WhatsAppClient` tells its owner, in order, on `WhatsAppClient.events`.
public enum ClientEvent: Sendable, Equatable {
    /// A QR code to show until `expiresAt`; the next one follows when it expires.
    case qrCode(QRCodeOffer)
    /// All refs of the pairing IQ expired unused: the client disconnected and stopped; `start`
    /// again brings new ones.
    case refsExhausted
    /// The code to type on the phone (Linked devices → Link with phone number), `ABCD-EFGH`.
    case pairingCode(String)
    /// A phone without multi-device scanned the code (`<ib><downgrade_webclient/>`).
    case qrScannedWithoutMultidevice
    /// The phone verified and linked this device; login follows after the server's restart.
    case paired(PairedAccount)
    /// A pair-success failed a check and was refused; nothing was stored.
    case pairingRefused(PairingFailure)
    /// The server accepted the login (`success`); prekeys, passive/active and presence follow.
    case loggedIn(LoggedInAccount)
    /// The connection was lost or restarted; the client connects again after `delay`.
    case reconnecting(ReconnectReason, delay: Duration)
    /// The account is gone from this device: its state has been wiped, nothing reconnects.
    case loggedOut(LogoutReason)
    /// Another connection with the same credentials took over (`<conflict type="replaced"/>`);
    /// nothing reconnects, the state is kept.
    case replaced
    /// The server refused the announced WhatsApp Web version (`failure reason=405`).
    case outdatedVersion(WhatsAppWebVersion)
    /// `failure reason=402`: a temporary ban with WhatsApp's code and its remaining time.
    case temporarilyBanned(code: Int, expiresIn: Duration)
    /// A `failure` the client does not reconnect after, with its reason code.
    case connectFailure(reason: Int, message: String?)
    /// A keepalive ping went unanswered; `count` in a row so far.
    case keepAliveTimeout(count: Int)
    case keepAliveRestored
    /// The server delivered what queued up while the device was offline.
    case offlineSyncCompleted(count: Int)
    /// A message decrypted and decoded; answer it with `WhatsAppClient.confirm(_:)` once stored
    /// (until then WhatsApp delivers it again after a reconnect, and it comes out again).
    case message(ReceivedMessage)
    /// A message that could not be decrypted; a retry receipt asked the sender for it again.
    /// Confirm it like a message once stored; the re-sent message arrives as `message`.
    case undecryptableMessage(UndecryptableMessage)
    /// A stanza the client does not handle itself (receipts, calls, other notifications).
    /// Notifications and calls are already acknowledged; receipts (except retry receipts) are
    /// the owner's to acknowledge with `acknowledge(_:)` once recorded.
    case stanza(BinaryNode)
    /// A device asked for a message we sent again (a retry receipt): `resent` when it was
    /// encrypted for that device and sent, else why not.
    case retryReceipt(messageID: String, from: JID, resent: Bool, reason: String?)
    /// The connection ended and the client does not reconnect: the device is not paired (or
    /// reconnecting is off). `start` connects again (and brings new refs).
    case disconnected(ReconnectReason)
    /// The client stopped (after `stop`, a logout or a final failure) and will not reconnect.
    case stopped
}

/// One QR code of the ref rotation.
public struct QRCodeOffer: Sendable, Equatable {
    /// The string to render (`https://wa.me/settings/linked_devices#…`).
    public var code: String
    /// 0 for the first ref of the pairing IQ.
    public var index: Int
    /// How many refs follow this one.
    public var remaining: Int
    public var validFor: Duration
    public var expiresAt: Date

    public init(code: String, index: Int, remaining: Int, validFor: Duration, expiresAt: Date) {
        self.code = code
        self.index = index
        self.remaining = remaining
        self.validFor = validFor
        self.expiresAt = expiresAt
    }
}

public struct PairedAccount: Sendable, Equatable {
    /// Our phone-number device JID.
    public var jid: JID
    public var lid: JID?
    /// The primary phone's platform, as the server names it.
    public var platform: String
    public var businessName: String
    public var pushName: String?

    public init(jid: JID, lid: JID?, platform: String, businessName: String, pushName: String?) {
        self.jid = jid
        self.lid = lid
        self.platform = platform
        self.businessName = businessName
        self.pushName = pushName
    }
}

public struct LoggedInAccount: Sendable, Equatable {
    public var jid: JID
    public var lid: JID?
    public var pushName: String?
    /// Server time minus local time, from `success t=…`.
    public var serverTimeOffset: Duration

    public init(jid: JID, lid: JID?, pushName: String?, serverTimeOffset: Duration) {
        self.jid = jid
        self.lid = lid
        self.pushName = pushName
        self.serverTimeOffset = serverTimeOffset
    }
}

/// Why the client connects again.
public enum ReconnectReason: Sendable, Equatable {
    /// `stream:error code="515"`: the server asks for a new connection (after pairing too).
    case restartRequired
    /// `stream:error code="503"` or `failure` 500/503.
    case serviceUnavailable(code: Int)
    /// Another `stream:error` the client does not know, followed by the socket closing.
    case streamError(code: String?)
    /// No keepalive answered for the allowed time.
    case keepAliveTimedOut
    /// The socket closed or broke without a stanza saying why.
    case connectionLost
    /// Opening the socket or the handshake failed.
    case connectFailed(String)
}

/// Why the account is gone from this device.
public enum LogoutReason: Sendable, Equatable {
    /// The phone removed the linked device (`stream:error 401` with `device_removed`).
    case deviceRemoved
    /// `failure reason=401`.
    case loggedOut
    /// `failure reason=403` (WhatsApp Web: "locked").
    case mainDeviceGone
    /// `failure reason=406` (WhatsApp Web: "banned").
    case banned
    /// `logout()` was called and the server was told.
    case userInitiated
}
