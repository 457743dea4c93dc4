import Foundation

/// User sync (`<iq xmlns="usync">`): which devices a user has, whether a phone number is on
/// WhatsApp, and the LID behind a phone number (whatsmeow user.go: usync, GetUserDevices,
/// IsOnWhatsApp, GetUserInfo, parseDeviceList).
public enum Usync {
    /// The three questions the client asks, each shaped as whatsmeow asks it.
    public enum Question: Sendable, Equatable {
        /// `mode=query context=message`, `<devices version="2"/>`: before encrypting a message.
        case devices
        /// `mode=query context=interactive`, `<contact addressing_mode="lid"/>` and the business,
        /// disappearing mode and username queries: is this phone number on WhatsApp.
        case contact
        /// `mode=full context=background`: business, status, picture, devices and `<lid/>`;
        /// what whatsmeow asks when it needs the LID of a phone number.
        case userInfo
    }

    public enum Failure: Error, Equatable, Sendable {
        case missingList
    }

    /// What the server said about one user.
    public struct User: Sendable, Equatable {
        /// The user as the answer names it (a LID user when the server answers in LID mode).
        public var jid: JID
        /// `pn_jid`, when the answer names the user by LID.
        public var phone: JID?
        /// The user's devices, user JID with the device number; nil when not asked for.
        public var devices: [JID]?
        /// From `<lid val=…>`, or from `jid`/`pn_jid` in LID addressing mode.
        public var lid: JID?
        /// From `<contact type="in|out">`; nil when not asked for.
        public var isOnWhatsApp: Bool?
        /// The number the contact query asked about (`<contact>` content, without `@c.us`).
        public var query: String?

        public init(jid: JID, phone: JID? = nil, devices: [JID]? = nil, lid: JID? = nil, isOnWhatsApp: Bool? = nil, query: String? = nil) {
            self.jid = jid
            self.phone = phone
            self.devices = devices
            self.lid = lid
            self.isOnWhatsApp = isOnWhatsApp
            self.query = query
        }
    }

    /// The IQ for `question` about `users` (user JIDs; phone numbers for `.contact`, `+` and
    /// digits). `sid` is a fresh request id, as whatsmeow gives every usync one.
    public static func query(_ question: Question, users: [JID], sid: String) -> InfoQuery {
        let (mode, context, queries): (String, String, [BinaryNode])
        switch question {
        case .devices:
            (mode, context, queries) = ("query", "message", [BinaryNode(tag: "devices", attributes: ["version": "2"])])
        case .contact:
            (mode, context, queries) = (
                "query", "interactive",
                [
                    BinaryNode(tag: "contact", attributes: ["addressing_mode": "lid"]),
                    BinaryNode(tag: "business", children: [BinaryNode(tag: "verified_name")]),
                    BinaryNode(tag: "disappearing_mode"),
                    BinaryNode(tag: "username"),
                ]
            )
        case .userInfo:
            (mode, context, queries) = (
                "full", "background",
                [
                    BinaryNode(tag: "business", children: [BinaryNode(tag: "verified_name")]),
                    BinaryNode(tag: "status"),
                    BinaryNode(tag: "picture"),
                    BinaryNode(tag: "devices", attributes: ["version": "2"]),
                    BinaryNode(tag: "lid"),
                ]
            )
        }
        let list = users.map { user -> BinaryNode in
            let user = user.withoutDevice
            if question == .contact {
                // whatsmeow writes the number as a legacy `c.us` JID string: `+digits@c.us`.
                return BinaryNode(tag: "user", children: [BinaryNode(tag: "contact", content: .string("+\(user.user)@\(JID.Server.legacyUser)"))])
            }
            return BinaryNode(tag: "user", attributes: ["jid": .jid(user)])
        }
        let usync = BinaryNode(
            tag: "usync",
            attributes: ["sid": .string(sid), "mode": .string(mode), "last": "true", "index": "0", "context": .string(context)],
            children: [BinaryNode(tag: "query", children: queries), BinaryNode(tag: "list", children: list)]
        )
        return InfoQuery(namespace: "usync", kind: .get, content: [usync])
    }

    /// The users of a usync answer, in the answer's order.
    public static func users(in answer: BinaryNode) throws(Failure) -> [User] {
        guard let list = answer.child("usync")?.child("list") else { throw .missingList }
        return list.children.compactMap { node -> User? in
            guard node.tag == "user" else { return nil }
            let jid = node.attributes.jid("jid")
            let phone = node.attributes.jid("pn_jid")
            guard let named = jid ?? phone else { return nil }
            var user = User(jid: named.withoutDevice, phone: phone?.withoutDevice)
            if let devices = node.child("devices") { user.devices = deviceList(of: user.jid, in: devices) }
            if let lid = node.child("lid")?.attributes.jid("val"), lid.isLID { user.lid = lid.withoutDevice }
            if user.lid == nil, let jid, jid.isLID, phone != nil { user.lid = jid.withoutDevice }
            if let contact = node.child("contact") {
                user.isOnWhatsApp = contact.attributes.string("type") == "in"
                if let bytes = contact.contentBytes {
                    let text = String(decoding: bytes, as: UTF8.self)
                    user.query = String(text.split(separator: "@").first ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "+"))
                }
            }
            return user
        }
    }

    /// `<devices><device-list><device id key-index [is_hosted]/>…</device-list></devices>` as
    /// device JIDs of `user`; hosted devices move to the hosted servers (parseDeviceList).
    public static func deviceList(of user: JID, in devices: BinaryNode) -> [JID] {
        guard devices.tag == "devices", let list = devices.child("device-list") else { return [] }
        return list.children.compactMap { device -> JID? in
            guard device.tag == "device", let text = device.attributes.string("id"), let number = UInt16(text) else { return nil }
            var jid = user.withoutDevice
            jid.device = number
            if device.attributes.string("is_hosted") == "true" {
                jid.server = user.isLID ? JID.Server.hostedLID : JID.Server.hosted
            }
            return jid
        }
    }
}
