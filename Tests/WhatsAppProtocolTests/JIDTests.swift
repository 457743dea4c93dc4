import Testing

@testable import WhatsAppProtocol

@Suite struct JIDTests {
    @Test(arguments: [
        ("5511987654321@s.whatsapp.net", JID.user("5511987654321")),
        ("5511987654321:12@s.whatsapp.net", JID.user("5511987654321", device: 12)),
        ("203123456789012:3@lid", JID.lid("203123456789012", device: 3)),
        ("120363025246125888@g.us", JID(user: "120363025246125888", server: JID.Server.group)),
        ("5511987654321.7:3@s.whatsapp.net", JID(user: "5511987654321", agent: 7, device: 3, server: JID.Server.user)),
        ("s.whatsapp.net", JID.server),
        ("status@broadcast", JID(user: "status", server: JID.Server.broadcast)),
    ])
    func parsesAndFormats(_ text: String, _ jid: JID) throws {
        #expect(try JID(parsing: text) == jid)
        #expect(jid.description == text)
    }

    @Test(arguments: ["", "a@b@c", "1:x@s.whatsapp.net", "1.y:2@s.whatsapp.net", "user@"])
    func rejectsMalformed(_ text: String) {
        #expect(throws: JID.ParseError.self) { try JID(parsing: text) }
    }

    @Test func domainsOnTheWire() {
        #expect(JID.user("1", device: 2).domain == 0)
        #expect(JID.lid("1", device: 2).domain == 1)
        #expect(JID(user: "1", server: JID.Server.hosted).domain == 128)
        #expect(JID(user: "1", server: JID.Server.hostedLID).domain == 129)
        #expect(JID(user: "1", domain: 1, device: 4) == .lid("1", device: 4))
        #expect(JID.lid("1", device: 4).withoutDevice == .lid("1"))
        #expect(JID.lid("1").isLID && !JID.user("1").isLID)
    }
}
