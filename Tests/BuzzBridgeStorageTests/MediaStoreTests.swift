import BuzzBridgeCore
import BuzzBridgeStorage
import Foundation
import Testing

/// Media facts on messages: stored with the message, read back in every query, changed later
/// (a file fetched or failed) only on media messages, and found by id alone for signed links.
@Suite("Store: media on messages")
struct MediaStoreTests {
    static let own = PhoneNumber("+60100000000")!
    static let alice = PhoneNumber("+60111111111")!
    static let hash = String(repeating: "ab", count: 32)

    @Test func mediaFactsRoundTripAndChangeOnlyOnMediaMessages() async throws {
        try await withTemporaryStore { store, _ in
            let session = activeSession("session_media", name: "Media")
            try await store.createSession(session)
            let pending = MediaAttachment(mimeType: "image/jpeg", fileName: "photo.jpg", width: 640, height: 480, status: .pending)
            let image = Message(
                id: .generate(), sessionID: session.id, externalID: "IMG1", direction: .incoming, from: Self.alice, to: Self.own,
                body: "a caption", status: .unread, timestamp: .now(), type: .image, mediaURL: "/api/media/x", media: pending
            )
            let text = Message(
                id: .generate(), sessionID: session.id, externalID: "TXT1", direction: .incoming, from: Self.alice, to: Self.own,
                body: "hello", status: .unread, timestamp: .now()
            )
            #expect(try await store.insertMessage(image, events: []))
            #expect(try await store.insertMessage(text, events: []))
            #expect(try await store.message(image.id, in: session.id) == image)
            #expect(try await store.message(text.id, in: session.id)?.media == nil)
            let page = try await store.messages(MessageQuery(sessionID: session.id, limit: 10, offset: 0))
            #expect(page.messages.first { $0.id == image.id }?.media == pending)

            var ready = pending
            ready.status = .ready
            ready.blobHash = Self.hash
            ready.size = 12345
            let updated = try await store.updateMedia(of: image.id, in: session.id, to: ready) { _ in [] }
            #expect(updated?.media == ready)
            #expect(try await store.message(image.id, in: session.id)?.media == ready)
            // A text message has no media to change; another session's message is not found.
            #expect(try await store.updateMedia(of: text.id, in: session.id, to: ready) { _ in [] } == nil)
            #expect(try await store.updateMedia(of: image.id, in: SessionID(rawValue: "session_other"), to: ready) { _ in [] } == nil)

            #expect(try await store.message(mediaOf: image.id)?.id == image.id)
            #expect(try await store.message(mediaOf: text.id) == nil)
        }
    }
}
