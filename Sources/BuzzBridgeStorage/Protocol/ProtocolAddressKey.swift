/// A Signal address as the store keys it: the user part of a JID (with its agent, as the
/// protocol writes it) and the device number.
public struct ProtocolAddressKey: Hashable, Sendable, CustomStringConvertible {
    public var user: String
    public var device: Int

    public init(user: String, device: Int) {
        self.user = user
        self.device = device
    }

    public var description: String { "\(user):\(device)" }
}
