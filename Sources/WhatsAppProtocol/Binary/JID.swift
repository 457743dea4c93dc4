/// A WhatsApp address: `user[.agent][:device]@server`.
///
/// Phone-number users live on `s.whatsapp.net`, their hidden LID identities on `lid`; a non-zero
/// `device` addresses one linked device (0 is the main phone). Messenger (`msgr`) and interop
/// JIDs carry a device, interop ones also an integrator id.
public struct JID: Sendable, Hashable, CustomStringConvertible {
    public var user: String
    /// The raw agent of an AD-JID whose domain byte is not one of the known servers.
    public var agent: UInt8
    public var device: UInt16
    /// Only meaningful for `interop` JIDs.
    public var integrator: UInt16
    public var server: String

    public init(user: String = "", agent: UInt8 = 0, device: UInt16 = 0, integrator: UInt16 = 0, server: String) {
        self.user = user
        self.agent = agent
        self.device = device
        self.integrator = integrator
        self.server = server
    }

    public enum Server {
        public static let user = "s.whatsapp.net"
        public static let group = "g.us"
        public static let legacyUser = "c.us"
        public static let broadcast = "broadcast"
        public static let lid = "lid"
        public static let messenger = "msgr"
        public static let interop = "interop"
        public static let newsletter = "newsletter"
        public static let hosted = "hosted"
        public static let hostedLID = "hosted.lid"
        public static let bot = "bot"
    }

    /// `s.whatsapp.net`, the address of the server itself in IQs.
    public static let server = JID(server: Server.user)

    public static func user(_ user: String, device: UInt16 = 0) -> JID {
        JID(user: user, device: device, server: Server.user)
    }

    public static func lid(_ user: String, device: UInt16 = 0) -> JID {
        JID(user: user, device: device, server: Server.lid)
    }

    public var isLID: Bool { server == Server.lid || server == Server.hostedLID }

    /// The same account without agent and device: what chats and contacts are keyed by.
    public var withoutDevice: JID {
        JID(user: user, integrator: integrator, server: server)
    }

    /// The domain byte an AD-JID carries on the wire: the server for LID and hosted JIDs,
    /// otherwise the raw agent (0 for an ordinary phone-number JID).
    public var domain: UInt8 {
        switch server {
        case Server.lid: 1
        case Server.hosted: 128
        case Server.hostedLID: 129
        default: agent
        }
    }

    /// The inverse of `domain`: the AD-JID read from the wire.
    public init(user: String, domain: UInt8, device: UInt8) {
        switch domain {
        case 1: self.init(user: user, device: UInt16(device), server: Server.lid)
        case 128: self.init(user: user, device: UInt16(device), server: Server.hosted)
        case 129: self.init(user: user, device: UInt16(device), server: Server.hostedLID)
        default: self.init(user: user, agent: domain, device: UInt16(device), server: Server.user)
        }
    }

    public var description: String {
        if server.isEmpty { return "" }
        if agent > 0 { return "\(user).\(agent):\(device)@\(server)" }
        if device > 0 { return "\(user):\(device)@\(server)" }
        if !user.isEmpty { return "\(user)@\(server)" }
        return server
    }

    public enum ParseError: Error, Equatable, Sendable {
        case malformed(String)
    }

    /// Parses the forms `description` writes: `server`, `user@server`, `user:device@server` and
    /// `user.agent:device@server`.
    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count <= 2, let last = parts.last, !last.isEmpty else { throw .malformed(text) }
        guard parts.count == 2 else {
            self.init(server: String(last))
            return
        }
        var local = Substring(parts[0])
        var agent: UInt8 = 0
        var device: UInt16 = 0
        if let colon = local.firstIndex(of: ":") {
            guard let value = UInt16(local[local.index(after: colon)...]) else { throw .malformed(text) }
            device = value
            local = local[..<colon]
        }
        if let dot = local.firstIndex(of: ".") {
            guard let value = UInt8(local[local.index(after: dot)...]) else { throw .malformed(text) }
            agent = value
            local = local[..<dot]
        }
        self.init(user: String(local), agent: agent, device: device, server: String(last))
    }
}

/// A JID is stored as its string form.
extension JID: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a JID: \(text)")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
