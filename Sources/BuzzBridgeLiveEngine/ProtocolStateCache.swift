import Foundation
import SignalProtocol
import Synchronization
import WhatsAppProtocol

/// Decoded protocol records of one session, kept beside the store so that a message does not read
/// and decode the same Signal session, identity, device list or credentials again and again.
///
/// The store stays the truth: every write goes to the store first and only then into the cache; a
/// write that fails leaves the entry out, so it is read again. A value read from the store enters
/// the cache only if no write touched the cache while it was read (`version`), so a slow read can
/// never put back what a newer write replaced. Entries are kept whether present or absent
/// (`.some(nil)`: the store has none).
final class ProtocolStateCache: Sendable {
    struct State {
        var version = 0
        var credentials: DeviceCredentials??
        var sessions: [ProtocolAddress: SessionRecord?] = [:]
        var identities: [ProtocolAddress: ECPublicKey?] = [:]
        var deviceLists: [JID: DeviceList?] = [:]
    }

    /// Sessions and identities kept at most; beyond it they are dropped and read again.
    static let capacity = 4096

    private let state = Mutex(State())

    /// The cached value (`nil` when not cached) and the version a value read now must be filled in under.
    func lookUp<Value>(_ pick: (State) -> Value??) -> (cached: Value??, version: Int) {
        state.withLock { (pick($0), $0.version) }
    }

    /// Puts a value read from the store in, unless a write came in between.
    func fill(readAt version: Int, _ change: (inout State) -> Void) {
        state.withLock { state in
            guard state.version == version else { return }
            change(&state)
            if state.sessions.count > Self.capacity { state.sessions.removeAll() }
            if state.identities.count > Self.capacity { state.identities.removeAll() }
        }
    }

    /// Before a write: forgets what it changes, so no reader trusts the old value meanwhile.
    /// After the write succeeded: records what the store now holds.
    func update(_ change: (inout State) -> Void) {
        state.withLock { state in
            state.version += 1
            change(&state)
        }
    }

    /// Everything forgotten (the state was wiped).
    func clear() {
        state.withLock { state in state = State(version: state.version + 1) }
    }
}
