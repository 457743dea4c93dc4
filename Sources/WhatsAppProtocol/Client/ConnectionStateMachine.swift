import Foundation

/// The connection's life cycle as a pure value: the client feeds it what happened and performs
/// the actions it returns, in order (the shape of Hummingbird's HTTP/2 connection state
/// machine). It decides when to connect, which timers run, what to tell the owner, when to
/// wipe the state; it never touches a socket, a clock or the store itself.
public struct ConnectionStateMachine: Sendable {
    public enum State: Sendable, Equatable {
        case idle
        /// Opening the socket and doing the Noise handshake.
        case connecting
        /// Connected with the registration payload, waiting for `pair-device`.
        case awaitingRefs
        /// Showing QR code `index` of `refs`.
        case showingQR(refs: [String], index: Int)
        /// pair-device-sign sent; the server's `515` is expected next.
        case awaitingRestart
        /// Connected with the login payload, waiting for `success`.
        case awaitingSuccess
        case loggedIn
        /// Waiting to connect again.
        case waitingToReconnect
        /// Final: stopped, logged out, replaced or refused; `start` makes a new life.
        case stopped
    }

    public enum Event: Sendable, Equatable {
        case startRequested(paired: Bool)
        /// Socket opened and handshake done.
        case connected
        case connectFailed(String)
        case pairDeviceReceived(refs: [String])
        case qrExpired
        /// A pair-success was verified, stored and answered.
        case paired(PairedAccount)
        case successReceived(LoggedInAccount)
        case failureReceived(BinaryNode)
        case streamErrorReceived(BinaryNode)
        /// The keepalive gave up (no answer for the allowed time).
        case keepAliveFailed
        /// The socket closed or broke.
        case socketClosed
        case reconnectDue
        case stopRequested
        /// The server confirmed `remove-companion-device`.
        case loggedOutByUser
    }

    public enum Action: Sendable, Equatable {
        /// Open a socket: registration payload when not paired, login payload when paired.
        case openSocket
        /// Close the socket; pending requests fail and the keepalive stops.
        case closeSocket
        case emit(ClientEvent)
        /// Show ref `refs[index]` as a QR code valid for `validFor`; fire `qrExpired` then.
        case presentQR(ref: String, index: Int, remaining: Int, validFor: Duration)
        case cancelQRTimer
        /// Fire `reconnectDue` after `delay`.
        case scheduleReconnect(after: Duration)
        case cancelReconnect
        /// After `success`: prekeys, passive/active, presence, keepalive.
        case beginSession
        /// Delete every stored key and credential of the account.
        case wipeStore
    }

    public private(set) var state: State = .idle
    public private(set) var isPaired = false
    /// Consecutive reconnects since the last `success`; sets the back-off.
    public private(set) var reconnectAttempts = 0
    public let autoReconnect: Bool
    public let version: WhatsAppWebVersion

    /// Each failed attempt waits 2 s longer (whatsmeow client.go: autoReconnect), at most this.
    public static let maximumBackoff: Duration = .seconds(120)

    public init(autoReconnect: Bool = true, version: WhatsAppWebVersion = .whatsmeowReference) {
        self.autoReconnect = autoReconnect
        self.version = version
    }

    public static func backoff(attempt: Int) -> Duration {
        min(.seconds(2 * attempt), maximumBackoff)
    }

    public mutating func handle(_ event: Event) -> [Action] {
        switch event {
        case .startRequested(let paired):
            guard state == .idle || state == .stopped else { return [] }
            isPaired = paired
            reconnectAttempts = 0
            state = .connecting
            return [.openSocket]

        case .connected:
            guard state == .connecting else { return [] }
            state = isPaired ? .awaitingSuccess : .awaitingRefs
            return []

        case .connectFailed(let description):
            guard state == .connecting else { return [] }
            return lost(.connectFailed(description), closing: false)

        case .pairDeviceReceived(let refs):
            switch state {
            case .awaitingRefs, .showingQR: break
            default: return []
            }
            guard !refs.isEmpty else { return exhausted() }
            state = .showingQR(refs: refs, index: 0)
            return [.cancelQRTimer, present(refs, 0)]

        case .qrExpired:
            guard case .showingQR(let refs, let index) = state else { return [] }
            guard index + 1 < refs.count else { return exhausted() }
            state = .showingQR(refs: refs, index: index + 1)
            return [present(refs, index + 1)]

        case .paired(let account):
            switch state {
            case .awaitingRefs, .showingQR: break
            default: return []
            }
            isPaired = true
            state = .awaitingRestart
            return [.cancelQRTimer, .emit(.paired(account))]

        case .successReceived(let account):
            // whatsmeow ignores `success` on a connection that never paired.
            guard isPaired, state == .awaitingSuccess || state == .awaitingRestart else { return [] }
            state = .loggedIn
            reconnectAttempts = 0
            return [.emit(.loggedIn(account)), .beginSession]

        case .failureReceived(let node):
            guard isActive else { return [] }
            return verdict(StreamErrors.classify(failure: node))

        case .streamErrorReceived(let node):
            guard isActive else { return [] }
            return verdict(StreamErrors.classify(streamError: node))

        case .keepAliveFailed:
            guard isActive else { return [] }
            return lost(.keepAliveTimedOut, closing: true)

        case .socketClosed:
            switch state {
            case .connecting, .awaitingRefs, .showingQR, .awaitingRestart, .awaitingSuccess, .loggedIn:
                return lost(.connectionLost, closing: false)
            default:
                return []
            }

        case .reconnectDue:
            guard state == .waitingToReconnect else { return [] }
            state = .connecting
            return [.openSocket]

        case .stopRequested:
            guard state != .stopped && state != .idle else { return [] }
            state = .stopped
            return [.cancelQRTimer, .cancelReconnect, .closeSocket, .emit(.stopped)]

        case .loggedOutByUser:
            guard state != .stopped else { return [] }
            return finish(.loggedOut(.userInitiated), wipe: true)
        }
    }

    private var isActive: Bool {
        switch state {
        case .connecting, .awaitingRefs, .showingQR, .awaitingRestart, .awaitingSuccess, .loggedIn: true
        default: false
        }
    }

    private func present(_ refs: [String], _ index: Int) -> Action {
        let remaining = refs.count - index
        return .presentQR(ref: refs[index], index: index, remaining: remaining - 1, validFor: Pairing.validity(remainingRefs: remaining))
    }

    /// The refs ran out: whatsmeow disconnects; a new start brings new refs.
    private mutating func exhausted() -> [Action] {
        state = .stopped
        return [.cancelQRTimer, .closeSocket, .emit(.refsExhausted), .emit(.stopped)]
    }

    private mutating func verdict(_ verdict: StreamVerdict) -> [Action] {
        switch verdict {
        case .restart:
            // A new connection at once, no back-off (whatsmeow: disconnect, then connect).
            state = .connecting
            return [.cancelQRTimer, .closeSocket, .emit(.reconnecting(.restartRequired, delay: .zero)), .openSocket]
        case .reconnect(let reason):
            return lost(reason, closing: true)
        case .loggedOut(let reason):
            return finish(.loggedOut(reason), wipe: true)
        case .replaced:
            return finish(.replaced, wipe: false)
        case .outdatedVersion:
            return finish(.outdatedVersion(version), wipe: false)
        case .temporarilyBanned(let code, let expiresIn):
            return finish(.temporarilyBanned(code: code, expiresIn: expiresIn), wipe: false)
        case .failed(let reason, let message):
            return finish(.connectFailure(reason: reason, message: message), wipe: false)
        }
    }

    /// The connection is gone without a final verdict: reconnect after the back-off when the
    /// device is paired (whatsmeow only reconnects paired devices), else stop.
    private mutating func lost(_ reason: ReconnectReason, closing: Bool) -> [Action] {
        var actions: [Action] = [.cancelQRTimer]
        if closing { actions.append(.closeSocket) }
        guard autoReconnect, isPaired else {
            state = .stopped
            if !closing { actions.append(.closeSocket) }
            return actions + [.emit(.disconnected(reason)), .emit(.stopped)]
        }
        let delay = Self.backoff(attempt: reconnectAttempts)
        reconnectAttempts += 1
        state = .waitingToReconnect
        if !closing { actions.append(.closeSocket) }
        return actions + [.emit(.reconnecting(reason, delay: delay)), .scheduleReconnect(after: delay)]
    }

    private mutating func finish(_ event: ClientEvent, wipe: Bool) -> [Action] {
        state = .stopped
        if wipe { isPaired = false }
        return [.cancelQRTimer, .cancelReconnect, .closeSocket] + (wipe ? [.wipeStore] : []) + [.emit(event), .emit(.stopped)]
    }
}
