/// A one-time prekey: its id, the serialised key pair, and whether the server has it.
public struct StoredPreKey: Sendable, Equatable {
    public var id: UInt32
    public var record: [UInt8]
    /// Whether the server has it (and may have handed it out).
    public var uploaded: Bool

    public init(id: UInt32, record: [UInt8], uploaded: Bool) {
        self.id = id
        self.record = record
        self.uploaded = uploaded
    }
}
