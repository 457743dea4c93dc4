/// The group a message was sent in.
public struct MessageGroup: Sendable, Equatable {
    /// The group's JID (`…@g.us`).
    public var id: String
    /// The group's name, when the engine knows it.
    public var subject: String?

    public init(id: String, subject: String? = nil) {
        self.id = id
        self.subject = subject
    }
}
