import Crypto
import Foundation
import TestSupport
import Testing

@testable import WhatsAppProtocol

@Suite struct PairingQRCodeTests {
    /// Fixed keys; the expected string's base64 public keys were computed with Python's
    /// `cryptography` X25519 from the same private bytes.
    static func fixedCredentials() throws -> DeviceCredentials {
        let identity = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: Data(101...132))
        return DeviceCredentials(
            noiseKey: try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: Data(1...32)),
            identityKey: identity,
            registrationID: 1,
            signedPreKey: DeviceCredentials.signPreKey(id: 1, privateKey: .init(), identityKey: identity),
            advSecret: Data(200...231)
        )
    }

    static let expected =
        "https://wa.me/settings/linked_devices#2@Xyz+/AbC==,"
        + "B6N8vBQgk8i3VdwbEOhstCY3StFqqFPtC9/AsrhtHHw=,VxR2nRFr92Q2rnS8eT0sMK0ZA8WaxSc4BcfiaYtBDDY=,"
        + "yMnKy8zNzs/Q0dLT1NXW19jZ2tvc3d7f4OHi4+Tl5uc=,9"

    @Test func stringLayout() throws {
        let code = PairingQRCode(ref: "2@Xyz+/AbC==", credentials: try Self.fixedCredentials(), clientType: .otherWebClient)
        #expect(code.text == Self.expected)
    }

    @Test func clientTypeFromPlatform() {
        #expect(QRClientType(platform: .chrome) == .chrome)
        #expect(QRClientType(platform: .androidPhone) == .android)
        #expect(QRClientType(platform: .unknown) == .otherWebClient)
        #expect(QRClientType(platform: .desktop) == .otherWebClient)
    }

    /// The PNG read back by zxing-cpp (Tests/peers/qr_decode.py) gives the exact string.
    @Test func pngDecodesToTheString() async throws {
        let code = PairingQRCode(ref: "2@Xyz+/AbC==", credentials: try Self.fixedCredentials(), clientType: .otherWebClient)
        let output = try await PythonPeer.check("qr_decode.py", input: Data(try code.png()))
        let symbols = try #require(try JSONSerialization.jsonObject(with: output) as? [[String: Any]])
        #expect(symbols.count == 1)
        #expect(symbols.first?["text"] as? String == Self.expected)
    }

    @Test func refsFromAPairDeviceStanza() throws {
        let stanza = BinaryNode(
            tag: "iq", attributes: ["from": .jid(.server), "id": "1", "type": "set"],
            children: [
                BinaryNode(
                    tag: "pair-device",
                    children: [
                        BinaryNode(tag: "ref", content: .bytes(Data("2@first".utf8))),
                        BinaryNode(tag: "ref", content: .bytes(Data("2@second".utf8))),
                    ])
            ])
        let decoded = try BinaryDecoder().decode(BinaryEncoder().encode(stanza))
        #expect(decoded.pairingRefs == ["2@first", "2@second"])
        #expect(BinaryNode(tag: "iq").pairingRefs == nil)
    }

    @Test func rotationShowsTheFirstRefForSixtySecondsThenTwenty() {
        let rotation = PairingRefRotation(refs: (1...6).map { "ref\($0)" })
        #expect(rotation.current(after: .zero)?.ref == "ref1")
        #expect(rotation.current(after: .seconds(59))?.ref == "ref1")
        #expect(rotation.current(after: .seconds(59))?.remaining == .seconds(1))
        #expect(rotation.current(after: .seconds(60))?.ref == "ref2")
        #expect(rotation.current(after: .seconds(79))?.ref == "ref2")
        #expect(rotation.current(after: .seconds(80))?.ref == "ref3")
        #expect(rotation.current(after: .seconds(159))?.index == 5)
        #expect(rotation.current(after: .seconds(160)) == nil)
        #expect(rotation.lifetime == .seconds(160))
        #expect(PairingRefRotation(refs: []).current(after: .zero) == nil)
    }

    @Test func sixtySecondsOnlyWhileSixRefsRemain() {
        // whatsmeow qrchan.go: the 60 s rule keys on six codes remaining, not on the first index.
        let five = PairingRefRotation(refs: (1...5).map { "ref\($0)" })
        #expect(five.current(after: .seconds(19))?.ref == "ref1")
        #expect(five.current(after: .seconds(20))?.ref == "ref2")
        #expect(five.lifetime == .seconds(100))
        let seven = PairingRefRotation(refs: (1...7).map { "ref\($0)" })
        #expect(PairingRefRotation.duration(ofRefAt: 0, of: 7) == .seconds(20))
        #expect(PairingRefRotation.duration(ofRefAt: 1, of: 7) == .seconds(60))
        #expect(seven.lifetime == .seconds(180))
        #expect(Pairing.validity(remainingRefs: 6) == .seconds(60))
        #expect(Pairing.validity(remainingRefs: 5) == .seconds(20))
        #expect(Pairing.validity(remainingRefs: 7) == .seconds(20))
    }
}
