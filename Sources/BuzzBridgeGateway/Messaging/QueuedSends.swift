import BuzzBridgeCore
import BuzzBridgeStorage
import Logging
import ServiceLifecycle

/// Sends, on the node that owns a session, the messages other nodes queued for it.
///
/// Woken by the store's notifications (`LISTEN/NOTIFY` on PostgreSQL) the moment another node
/// queues a send, and every ``pollInterval`` for the sessions it holds that have queued sends
/// (found in one request), so that a missed notification (a dropped listening connection) or a
/// session just taken over (its previous owner's queue) is sent all the same. One drain per session at a time, one message
/// claimed at a time, in the order they were queued.
///
/// Guarantees (with ``SendQueueStore``): a message is claimed under this node's lease token and
/// sent once; the claims a previous owner left unrecorded are failed, never sent again.
actor QueuedSends {
    static let pollInterval: Duration = .seconds(2)

    private let queue: any SendQueueStore
    private let messaging: Messaging
    private let ownership: SessionOwnership
    private let logger: Logger
    private var draining: Set<SessionID> = []
    private var wokenAgain: Set<SessionID> = []

    init(queue: any SendQueueStore, messaging: Messaging, ownership: SessionOwnership, logger: Logger) {
        self.queue = queue
        self.messaging = messaging
        self.ownership = ownership
        self.logger = logger
    }

    /// Listens and polls until graceful shutdown or cancellation.
    func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.listen() }
            while !Task.isShuttingDownGracefully, !Task.isCancelled {
                await poll()
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: Self.pollInterval) }
            }
            group.cancelAll()
        }
    }

    /// Wakes the held sessions that have queued sends, found in one request.
    private func poll() async {
        do {
            for session in try await queue.queuedSessions(among: await ownership.heldSessions()) { wake(session) }
        } catch {
            logger.warning("send queue: poll failed", metadata: ["error": "\(error)"])
        }
    }

    /// Keeps a listening connection, opening a new one a second after one fails.
    private nonisolated func listen() async {
        while !Task.isCancelled {
            do {
                try await queue.listen { session in Task { await self.wake(session) } }
            } catch {
                if Task.isCancelled { return }
                logger.warning("send queue: listening failed; polling until it is back", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Drains `session`'s queue now, or again right after the drain under way.
    func wake(_ session: SessionID) {
        guard !draining.contains(session) else {
            wokenAgain.insert(session)
            return
        }
        draining.insert(session)
        Task { await self.drain(session) }
    }

    private func drain(_ session: SessionID) async {
        repeat {
            wokenAgain.remove(session)
            await drainOnce(session)
        } while wokenAgain.contains(session)
        draining.remove(session)
    }

    private func drainOnce(_ session: SessionID) async {
        do {
            while let token = await ownership.token(for: session) {
                let claim = try await queue.claim(session: session, token: token, limit: 1)
                for message in claim.abandoned {
                    _ = try await queue.finish(message.id, in: session, as: .failed, at: .now(), externalID: nil, announce: Messaging.statusEvent)
                    logger.warning(
                        "send queue: a previous owner claimed this send and stopped before recording it; failed, not sent again",
                        metadata: ["message": "\(message.id)"])
                }
                guard let message = claim.claimed.first else { return }
                guard await messaging.deliverQueued(message, through: queue, logger: logger) else { return }
            }
        } catch {
            logger.warning("send queue: claim failed", metadata: ["session": "\(session)", "error": "\(error)"])
        }
    }
}
