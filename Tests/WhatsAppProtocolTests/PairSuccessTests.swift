import Crypto
import Foundation
import SwiftProtobuf
import TestSupport
import Testing

@testable import WhatsAppProtocol

/// Pairing against `Tests/peers/wa_phone.py`, which plays the phone with neonize's ADV
/// protobufs and libsignal's XEdDSA (python-axolotl-curve25519).
@Suite struct PairSuccessTests {
    static func phone(_ mode: String, _ request: [String: Any]) async throws -> [String: Any] {
        let output = try await PythonPeer.check("wa_phone.py", arguments: [mode], input: try JSONSerialization.data(withJSONObject: request))
        return try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
    }

    static func stanza(deviceIdentity: Data) -> BinaryNode {
        BinaryNode(
            tag: "iq", attributes: ["from": .jid(.server), "id": "pair-1", "type": "set", "t": "1700000000"],
            children: [
                BinaryNode(
                    tag: "pair-success",
                    children: [
                        BinaryNode(tag: "device-identity", content: .bytes(deviceIdentity)),
                        BinaryNode(tag: "platform", attributes: ["name": "android"]),
                        BinaryNode(
                            tag: "device",
                            attributes: ["jid": .jid(.user("5511987654321", device: 14)), "lid": .jid(.lid("203123456789012", device: 14))]),
                        BinaryNode(tag: "biz", attributes: ["name": "Shop"]),
                    ])
            ])
    }

    @Test(arguments: [false, true])
    func pairsAndCountersigns(hosted: Bool) async throws {
        let credentials = DeviceCredentials.generate()
        let identity = credentials.identityKey.publicKey.rawRepresentation.hex
        let seed = "phone-\(hosted)"
        let issued = try await Self.phone(
            "issue",
            [
                "seed": seed, "hosted": hosted, "identityKey": identity, "advSecret": credentials.advSecret.hex, "keyIndex": 3,
            ])
        let deviceIdentity = Data(hex: try #require(issued["deviceIdentity"] as? String))
        // Through the wire format, as the stanza would arrive.
        let stanza = try BinaryDecoder().decode(BinaryEncoder().encode(Self.stanza(deviceIdentity: deviceIdentity)))
        let outcome = try PairSuccess.complete(stanza, credentials: credentials)

        #expect(outcome.device.jid == .user("5511987654321", device: 14))
        #expect(outcome.device.lid == .lid("203123456789012", device: 14))
        #expect(outcome.device.businessName == "Shop" && outcome.device.platform == "android")
        #expect(outcome.device.primaryIdentityKey.hex == issued["accountKey"] as? String)
        #expect(try WAADVSignedDeviceIdentity(serializedBytes: outcome.device.account).accountSignatureKey.hex == issued["accountKey"] as? String)

        let reply = outcome.reply
        #expect(reply.attributes.string("type") == "result" && reply.attributes.string("id") == "pair-1")
        let signedIdentity = try #require(reply.child("pair-device-sign")?.child("device-identity"))
        #expect(signedIdentity.attributes.string("key-index") == "3")
        let checked = try await Self.phone(
            "check",
            [
                "seed": seed, "hosted": hosted, "identityKey": identity, "reply": try #require(signedIdentity.contentBytes).hex,
            ])
        #expect(checked["deviceSignatureValid"] as? Bool == true)
        #expect(checked["accountSignatureValid"] as? Bool == true)
        #expect(checked["hasAccountSignatureKey"] as? Bool == false)
        #expect(checked["details"] as? String == issued["details"] as? String)
    }

    @Test(arguments: [("hmac", PairingFailure.hmacMismatch), ("signature", .signatureMismatch)])
    func refusesTampering(_ tamper: String, _ failure: PairingFailure) async throws {
        let credentials = DeviceCredentials.generate()
        let issued = try await Self.phone(
            "issue",
            [
                "seed": "tamper", "tamper": tamper,
                "identityKey": credentials.identityKey.publicKey.rawRepresentation.hex, "advSecret": credentials.advSecret.hex,
            ])
        let stanza = Self.stanza(deviceIdentity: Data(hex: try #require(issued["deviceIdentity"] as? String)))
        #expect(throws: failure) { try PairSuccess.complete(stanza, credentials: credentials) }
    }

    @Test func refusesAnotherDevicesIdentity() async throws {
        let issuedFor = DeviceCredentials.generate()
        var other = DeviceCredentials.generate()
        other.advSecret = issuedFor.advSecret
        let issued = try await Self.phone(
            "issue",
            [
                "seed": "other", "identityKey": issuedFor.identityKey.publicKey.rawRepresentation.hex, "advSecret": issuedFor.advSecret.hex,
            ])
        let stanza = Self.stanza(deviceIdentity: Data(hex: try #require(issued["deviceIdentity"] as? String)))
        #expect(throws: PairingFailure.signatureMismatch) { try PairSuccess.complete(stanza, credentials: other) }
    }

    @Test func errorAndAcknowledgementStanzas() {
        #expect(
            PairSuccess.errorReply(.hmacMismatch, id: "7")
                == BinaryNode(
                    tag: "iq", attributes: ["to": .jid(.server), "type": "error", "id": "7"],
                    children: [BinaryNode(tag: "error", attributes: ["code": "401", "text": "hmac-mismatch"])]
                ))
        #expect(
            PairSuccess.acknowledgement(ofPairDevice: BinaryNode(tag: "iq", attributes: ["id": "9"]))
                == BinaryNode(tag: "iq", attributes: ["to": .jid(.server), "id": "9", "type": "result"]))
        #expect(throws: PairingFailure.malformed) { try PairSuccess.complete(BinaryNode(tag: "iq"), credentials: .generate()) }
    }
}
