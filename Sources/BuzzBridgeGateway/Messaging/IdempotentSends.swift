import BuzzBridgeCore
import BuzzBridgeStorage
import Crypto
import Foundation
import Synchronization

/// `Idempotency-Key` on `POST /api/messages/send`, as Stripe has it: a repeat of a key within
/// 24 hours on the same session gets the first answer (same status, same body, the same
/// `message_id`) and sends nothing; the same key with a different request gets 409
/// `IDEMPOTENCY_KEY_REUSED`.
///
/// Guarantees:
/// - The key is stored with the message in the same insert, and the first answer on the message
///   once it is known; both survive restarts.
/// - A repeat that arrives while the first is still running waits for it and gets its answer.
/// - An answer given before a message was stored (a validation error, an inactive session, a
///   full send queue) is not kept: the key stays free and a retry runs again.
/// - A message whose first request died with the process (no answer recorded) is answered as
///   it now stands, and is not sent again.
final class IdempotentSends: Sendable {
    static let window: Int64 = 24 * 3_600_000

    /// What the route answers: the status and the envelope's bytes.
    struct Answer: Sendable, Equatable {
        var status: Int
        var body: [UInt8]
    }

    private struct Key: Hashable {
        let session: SessionID
        let key: String
    }

    private struct Outcome: Sendable {
        let answer: Answer
        let replayed: Bool
    }

    private struct InFlight {
        let fingerprint: String
        let task: Task<Outcome, any Error>
    }

    private let store: any GatewayStore
    private let inFlight = Mutex<[Key: InFlight]>([:])

    init(store: any GatewayStore) {
        self.store = store
    }

    /// A key: 1 to 255 visible ASCII characters.
    static func isValid(_ key: String) -> Bool {
        (1...255).contains(key.utf8.count) && key.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }

    /// A digest of what the request asks for: a repeat must ask for the same.
    static func fingerprint(of request: Messaging.SendRequest) -> String {
        let canonical = [request.phone.e164, request.text, request.replyTo?.rawValue ?? ""].map { "\($0.utf8.count):\($0)" }.joined()
        return SHA256.hash(data: Array(canonical.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The answer for `key`: the first one, or the answer of `perform` when this is the first.
    /// `replayed` says whether it was given before.
    ///
    /// - `perform` sends with the key stored on the message and returns the answer.
    /// - `render` answers for a stored message whose first answer was never recorded.
    /// - `envelope` turns an error thrown after the message was stored into the answer kept for it.
    func answer(
        key: String, session: SessionID, fingerprint: String,
        perform: @escaping @Sendable () async throws -> Answer,
        render: @escaping @Sendable (Message) -> Answer,
        envelope: @escaping @Sendable (any Error) -> Answer
    ) async throws -> (answer: Answer, replayed: Bool) {
        let id = Key(session: session, key: key)
        let (entry, isFirst) = inFlight.withLock { flights -> (InFlight, Bool) in
            if let running = flights[id] { return (running, false) }
            let task = Task {
                defer { _ = self.inFlight.withLock { $0.removeValue(forKey: id) } }
                return try await self.resolve(id, fingerprint: fingerprint, perform: perform, render: render, envelope: envelope)
            }
            let entry = InFlight(fingerprint: fingerprint, task: task)
            flights[id] = entry
            return (entry, true)
        }
        guard entry.fingerprint == fingerprint else { throw Self.reused }
        let outcome = try await entry.task.value
        return (outcome.answer, !isFirst || outcome.replayed)
    }

    static let reused = APIError(
        .idempotencyKeyReused, "This Idempotency-Key was used with a different request",
        details: ["Idempotency-Key": "was used within 24 hours for a request with a different phone, message or reply_to"]
    )

    private func resolve(
        _ id: Key, fingerprint: String, perform: @Sendable () async throws -> Answer, render: @Sendable (Message) -> Answer,
        envelope: @Sendable (any Error) -> Answer
    ) async throws -> Outcome {
        if let earlier = try await store.idempotentSend(key: id.key, in: id.session) {
            if Timestamp.now().millisecondsSinceEpoch - earlier.message.timestamp.millisecondsSinceEpoch < Self.window {
                guard earlier.fingerprint == fingerprint else { throw Self.reused }
                if let status = earlier.answerStatus, let body = earlier.answerBody {
                    return Outcome(answer: Answer(status: status, body: body), replayed: true)
                }
                return Outcome(answer: render(earlier.message), replayed: true)
            }
            try await store.releaseIdempotencyKey(id.key, in: id.session)
        }
        do {
            let answer = try await perform()
            try await store.recordAnswer(status: answer.status, body: answer.body, forIdempotencyKey: id.key, in: id.session)
            return Outcome(answer: answer, replayed: false)
        } catch {
            // Kept only when the message was stored: then this is the request's answer for good.
            let answer = envelope(error)
            try await store.recordAnswer(status: answer.status, body: answer.body, forIdempotencyKey: id.key, in: id.session)
            throw error
        }
    }
}
