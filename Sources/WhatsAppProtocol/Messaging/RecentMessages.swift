import Foundation

/// The plaintexts of the messages sent last, kept so that a retry receipt can be answered by
/// encrypting the same message again for the device that could not decrypt it (whatsmeow
/// retry.go: recentMessagesSize, addRecentMessage, getRecentMessage). A ring: the oldest entry
/// goes when a new one comes in beyond `capacity`.
public struct RecentMessages: Sendable {
    public struct Entry: Sendable, Equatable {
        /// The chat the message went to (the recipient's user JID, LID when sent by LID).
        public var chat: JID
        public var id: String
        /// The serialized `Message` for the recipient's devices.
        public var plaintext: Data
        /// The serialized `Message` wrapping it as a `DeviceSentMessage` for the own devices.
        public var deviceSentPlaintext: Data?
        /// The stanza's `type` (`text`, `media`…).
        public var type: String
        /// The `enc` nodes' `mediatype` of a media message.
        public var mediaType: String?

        public init(chat: JID, id: String, plaintext: Data, deviceSentPlaintext: Data?, type: String, mediaType: String? = nil) {
            self.chat = chat
            self.id = id
            self.plaintext = plaintext
            self.deviceSentPlaintext = deviceSentPlaintext
            self.type = type
            self.mediaType = mediaType
        }
    }

    /// whatsmeow keeps 256.
    public static let defaultCapacity = 256

    public let capacity: Int
    private var entries: [Entry?]
    private var next = 0

    public init(capacity: Int = Self.defaultCapacity) {
        self.capacity = max(1, capacity)
        entries = Array(repeating: nil, count: self.capacity)
    }

    public mutating func add(_ entry: Entry) {
        entries[next] = entry
        next = (next + 1) % capacity
    }

    /// The newest entry with message id `id`, sent to `chat` or to any chat when `chat` is nil.
    public func entry(id: String, chat: JID? = nil) -> Entry? {
        for offset in 1...capacity {
            guard let entry = entries[(next - offset + capacity) % capacity] else { continue }
            if entry.id == id, chat == nil || entry.chat == chat?.withoutDevice { return entry }
        }
        return nil
    }
}
