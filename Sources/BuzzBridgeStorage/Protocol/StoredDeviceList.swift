import BuzzBridgeCore

/// A user's devices as last fetched, with when, so that the engine can tell a stale list.
public struct StoredDeviceList: Sendable, Equatable {
    public var record: [UInt8]
    public var fetchedAt: Timestamp

    public init(record: [UInt8], fetchedAt: Timestamp) {
        self.record = record
        self.fetchedAt = fetchedAt
    }
}
