/// One device of one user: the unit a session belongs to.
public struct ProtocolAddress: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let deviceId: UInt32

    public init(name: String, deviceId: UInt32) {
        self.name = name
        self.deviceId = deviceId
    }

    public var description: String { "\(name).\(deviceId)" }
}

/// One sender's key chain in one group.
public struct SenderKeyName: Sendable, Hashable, CustomStringConvertible {
    public let groupId: String
    public let sender: ProtocolAddress

    public init(groupId: String, sender: ProtocolAddress) {
        self.groupId = groupId
        self.sender = sender
    }

    public var description: String { "\(groupId)::\(sender)" }
}
