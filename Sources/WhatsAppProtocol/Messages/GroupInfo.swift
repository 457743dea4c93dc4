import Foundation

/// A group's metadata as a `w:g2` group-info query answers it (whatsmeow group.go: getGroupInfo,
/// parseGroupNode), reduced to what messages need: the subject, and the participants' LID↔phone
/// pairs of LID-addressed groups.
public struct GroupInfo: Sendable, Equatable {
    public var jid: JID
    public var subject: String?
    public var lidMappings: [LIDMapping]

    public init(jid: JID, subject: String?, lidMappings: [LIDMapping]) {
        self.jid = jid
        self.subject = subject
        self.lidMappings = lidMappings
    }

    /// `<iq xmlns="w:g2" type="get" to=GROUP><query request="interactive"/></iq>`. Short and not
    /// retried: it runs while a message waits to be reported.
    public static func query(_ group: JID) -> InfoQuery {
        InfoQuery(
            namespace: "w:g2", kind: .get, to: group, content: [BinaryNode(tag: "query", attributes: ["request": "interactive"])],
            timeout: .seconds(10), retriesAfterReconnect: false)
    }

    /// Reads `<iq><group subject …><participant jid [phone_number]/>…</group></iq>`; nil without a `group`.
    public init?(answer: BinaryNode, group: JID) {
        guard let node = answer.child("group") else { return nil }
        jid = group
        subject = node.attributes.string("subject").flatMap { $0.isEmpty ? nil : $0 }
        lidMappings = node.children.compactMap { participant in
            guard participant.tag == "participant", let jid = participant.attributes.jid("jid"),
                let phone = participant.attributes.jid("phone_number")
            else { return nil }
            return jid.isLID && !phone.isLID ? LIDMapping(lid: jid, phone: phone) : nil
        }
    }
}
