import Crypto
import Foundation
import SignalProtocol
import TestSupport
import Testing

@testable import WhatsAppProtocol

@Suite struct PairingCodeTests {
    static func peer(_ request: [String: String]) async throws -> [String: String] {
        let output = try await PythonPeer.check("pairing_code_peer.py", input: try JSONSerialization.data(withJSONObject: request))
        return try #require(try JSONSerialization.jsonObject(with: output) as? [String: String])
    }

    static func random(_ count: Int) -> Data {
        Data((0..<count).map { _ in UInt8.random(in: .min ... .max) })
    }

    @Test func keyWrapBundleAndADVSecretMatchPythonCryptography() async throws {
        let code = PairingCode.encode([UInt8](Self.random(5)))
        let salt = Self.random(32), iv = Self.random(16), publicKey = Self.random(32)
        let ephemeralShared = Self.random(32), identityShared = Self.random(32), advRandom = Self.random(32)
        let bundleSalt = Self.random(32), bundleNonce = Self.random(12), plaintext = Self.random(96)
        let fiveBytes = Self.random(5)
        let reference = try await Self.peer([
            "code": code, "salt": salt.hex, "iv": iv.hex, "publicKey": publicKey.hex,
            "ephemeralShared": ephemeralShared.hex, "identityShared": identityShared.hex, "advRandom": advRandom.hex,
            "bundleSalt": bundleSalt.hex, "bundleNonce": bundleNonce.hex, "bundlePlaintext": plaintext.hex,
            "encode": fiveBytes.hex,
        ])
        #expect(try PairingCode.key(code: code, salt: salt).withUnsafeBytes { Data($0) }.hex == reference["key"])
        let wrapped = try PairingCode.wrap(publicKey: publicKey, code: code, salt: salt, iv: iv)
        #expect(wrapped.hex == reference["wrapped"])
        #expect(wrapped.count == 80)
        #expect(try PairingCode.unwrap(wrapped, code: code) == publicKey)
        #expect(try PairingCode.unwrap(wrapped, code: "WRONGCOD") != publicKey)
        let bundle = try PairingCode.wrapKeyBundle(ephemeralShared: ephemeralShared, plaintext: plaintext, salt: bundleSalt, nonce: bundleNonce)
        #expect(bundle.hex == reference["bundle"])
        let advSecret = PairingCode.advSecret(ephemeralShared: ephemeralShared, identityShared: identityShared, advRandom: advRandom)
        #expect(advSecret.hex == reference["advSecret"])
        #expect(PairingCode.encode([UInt8](fiveBytes)) == reference["encoded"])
    }

    @Test func codesAreEightCharactersOfTheAlphabet() throws {
        #expect(PairingCode.encode([0, 0, 0, 0, 0]) == "11111111")
        #expect(PairingCode.encode([0xFF, 0xFF, 0xFF, 0xFF, 0xFF]) == "ZZZZZZZZ")
        var generator = SystemRandomNumberGenerator()
        let link = try PairingCode.begin(phone: "+60 12-345 6789", using: &generator)
        #expect(link.phone == .user("60123456789"))
        #expect(link.code.count == 8 && link.code.allSatisfy { PairingCode.alphabet.contains($0) })
        #expect(link.displayCode == link.code.prefix(4) + "-" + link.code.suffix(4))
        #expect(try PairingCode.unwrap(link.wrappedEphemeralKey, code: link.code) == link.ephemeralKey.publicKey.rawRepresentation)
        #expect(throws: PairingCode.Failure.phoneNumberTooShort) { try PairingCode.begin(phone: "123456", using: &generator) }
        #expect(throws: PairingCode.Failure.phoneNumberNotInternational) { try PairingCode.begin(phone: "0123456789", using: &generator) }
    }

    /// The phone's side played here with the same primitives: the companion's answer opens
    /// with the phone's keys and both sides derive the same ADV secret.
    @Test func primaryHelloAnsweredWithABundleThePhoneCanOpen() throws {
        var generator = SystemRandomNumberGenerator()
        var link = try PairingCode.begin(phone: "60123456789", using: &generator)
        link.pairingRef = Data("2@ref".utf8)
        let companionIdentity = Curve25519.KeyAgreement.PrivateKey()
        let primaryEphemeral = Curve25519.KeyAgreement.PrivateKey()
        let primaryIdentity = Curve25519.KeyAgreement.PrivateKey()
        let wrappedPrimary = try PairingCode.wrap(
            publicKey: primaryEphemeral.publicKey.rawRepresentation, code: link.code, salt: Self.random(32), iv: Self.random(16)
        )
        let notification = BinaryNode(
            tag: "notification", attributes: ["type": "link_code_companion_reg"],
            children: [
                BinaryNode(
                    tag: "link_code_companion_reg", attributes: ["stage": "primary_hello"],
                    children: [
                        BinaryNode(tag: "link_code_pairing_ref", content: .bytes(Data("2@ref".utf8))),
                        BinaryNode(tag: "link_code_pairing_wrapped_primary_ephemeral_pub", content: .bytes(wrappedPrimary)),
                        BinaryNode(tag: "primary_identity_pub", content: .bytes(primaryIdentity.publicKey.rawRepresentation)),
                    ])
            ])
        let finish = try PairingCode.finish(notification: notification, link: link, identityKey: companionIdentity, using: &generator)
        let stage = try #require(finish.query.content.first)
        #expect(stage.attributes.string("stage") == "companion_finish")
        #expect(stage.children.map(\.tag) == ["link_code_pairing_wrapped_key_bundle", "companion_identity_public", "link_code_pairing_ref"])

        // The phone opens the bundle: salt ‖ nonce ‖ GCM, under HKDF of the ephemeral agreement.
        let bundle = [UInt8](try #require(stage.child("link_code_pairing_wrapped_key_bundle")?.contentBytes))
        let companionEphemeral = try PairingCode.unwrap(link.wrappedEphemeralKey, code: link.code)
        let ephemeralPeer = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: companionEphemeral)
        let shared = try primaryEphemeral.sharedSecretFromKeyAgreement(with: ephemeralPeer).withUnsafeBytes { Data($0) }
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: shared), salt: Data(bundle[0..<32]),
            info: Data("link_code_pairing_key_bundle_encryption_key".utf8), outputByteCount: 32
        )
        let box = try AES.GCM.SealedBox(combined: Data(bundle[32...]))
        let opened = try AES.GCM.open(box, using: key)
        #expect(opened.prefix(32) == companionIdentity.publicKey.rawRepresentation)
        #expect(opened.dropFirst(32).prefix(32) == primaryIdentity.publicKey.rawRepresentation)
        let identityShared = try primaryIdentity.sharedSecretFromKeyAgreement(with: companionIdentity.publicKey).withUnsafeBytes { Data($0) }
        let phoneAdvSecret = PairingCode.advSecret(ephemeralShared: shared, identityShared: identityShared, advRandom: Data(opened.suffix(32)))
        #expect(phoneAdvSecret == finish.advSecret)

        // Another pairing ref is refused.
        link.pairingRef = Data("2@other".utf8)
        #expect(throws: PairingCode.Failure.refMismatch) {
            try PairingCode.finish(notification: notification, link: link, identityKey: companionIdentity, using: &generator)
        }
    }
}

@Suite struct PreKeysTests {
    @Test func uploadSizesAsWhatsmeowChoosesThem() {
        #expect(PreKeys.uploadSize(serverCount: 0, uploadedCount: 0) == 812)
        #expect(PreKeys.uploadSize(serverCount: 0, uploadedCount: 30) == 50)
        #expect(PreKeys.uploadSize(serverCount: 4, uploadedCount: 40) == 50)
        #expect(PreKeys.uploadSize(serverCount: 40, uploadedCount: 4) == 50)
        #expect(PreKeys.uploadSize(serverCount: 5, uploadedCount: 5) == nil)
        let now = ContinuousClock.now
        #expect(PreKeys.guardCancels(lastUpload: now - .seconds(60), now: now, serverCount: 50))
        #expect(!PreKeys.guardCancels(lastUpload: now - .seconds(60), now: now, serverCount: 49))
        #expect(!PreKeys.guardCancels(lastUpload: now - .seconds(601), now: now, serverCount: 50))
        #expect(!PreKeys.guardCancels(lastUpload: nil, now: now, serverCount: 50))
    }

    @Test func keysAreStoredBeforeUploadAndIdsNeverRepeat() async throws {
        let store = InMemoryClientStateStore()
        let credentials = try await store.loadOrCreateCredentials()
        let first = try await PreKeys.prepare(count: 812, store: store)
        #expect(first.map(\.id) == Array(1...812))
        #expect(try await store.nextPreKeyID() == 813)
        #expect(try await store.loadPreKey(id: 812) != nil)
        // Not marked uploaded (the upload failed): the same keys are offered again, no new ids.
        let again = try await PreKeys.prepare(count: 812, store: store)
        #expect(again.map(\.id) == first.map(\.id))
        try await store.markPreKeysUploaded(through: 812)
        #expect(try await store.uploadedPreKeyCount() == 812)
        let next = try await PreKeys.prepare(count: 50, store: store)
        #expect(next.map(\.id) == Array(813...862))

        let upload = PreKeys.uploadQuery(credentials: credentials, preKeys: Array(next.prefix(2))).node(id: "1")
        #expect(upload.attributes.string("xmlns") == "encrypt" && upload.attributes.string("type") == "set")
        #expect(upload.children.map(\.tag) == ["registration", "type", "identity", "list", "skey"])
        #expect(upload.child("registration")?.contentBytes?.count == 4)
        #expect(upload.child("type")?.contentBytes == Data([5]))
        let key = try #require(upload.child("list")?.children.first)
        #expect(key.child("id")?.contentBytes == Data([0, 0x03, 0x2D]))
        #expect(key.child("value")?.contentBytes?.count == 32)
        #expect(upload.child("skey")?.children.map(\.tag) == ["id", "value", "signature"])
        #expect(upload.child("skey")?.child("id")?.contentBytes == Data([0, 0, 1]))
    }

    @Test func countAnswerIsRead() throws {
        #expect(try PreKeys.serverCount(in: BinaryNode(tag: "iq", children: [BinaryNode(tag: "count", attributes: ["value": "17"])])) == 17)
        #expect(throws: PreKeys.Failure.malformedCount) { try PreKeys.serverCount(in: BinaryNode(tag: "iq")) }
    }
}

@Suite struct PairingRequestTests {
    @Test func onlyServerIQsWithExactlyOneChildArePairingRequests() {
        let refs = BinaryNode(tag: "pair-device", children: [BinaryNode(tag: "ref", content: .bytes(Data("r1".utf8)))])
        let pairDevice = BinaryNode(tag: "iq", attributes: ["from": .jid(.server), "id": "1"], children: [refs])
        #expect(Pairing.request(in: pairDevice) == .pairDevice(refs: ["r1"]))
        #expect(Pairing.request(in: BinaryNode(tag: "iq", attributes: ["from": .jid(.user("1")), "id": "1"], children: [refs])) == nil)
        #expect(Pairing.request(in: BinaryNode(tag: "iq", attributes: ["from": .jid(.server), "id": "1"], children: [refs, refs])) == nil)
        let success = BinaryNode(tag: "pair-success")
        #expect(Pairing.request(in: BinaryNode(tag: "iq", attributes: ["from": .jid(.server)], children: [success])) == .pairSuccess)
        #expect(Pairing.request(in: BinaryNode(tag: "iq", attributes: ["from": .jid(.server)], children: [success, BinaryNode(tag: "x")])) == nil)
    }

    @Test func unifiedSessionIdIsServerTimePlusThreeDaysModuloAWeek() {
        #expect(UnifiedSession.id(now: Date(timeIntervalSince1970: 0), serverTimeOffset: .zero) == "259200000")
        #expect(UnifiedSession.id(now: Date(timeIntervalSince1970: 5 * 86400), serverTimeOffset: .zero) == "86400000")
        #expect(UnifiedSession.id(now: Date(timeIntervalSince1970: 5 * 86400), serverTimeOffset: .seconds(-1)) == "86399000")
        let node = UnifiedSession.node(now: Date(), serverTimeOffset: .zero)
        #expect(node.tag == "ib" && node.children.map(\.tag) == ["unified_session"])
    }

    @Test func primaryIdentityGoesUnderTheLIDUsersDeviceZero() throws {
        let key = Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation
        let device = PairedDevice(
            jid: .user("60123456789", device: 4), lid: .lid("8877", device: 4), businessName: "", platform: "android",
            account: Data(), primaryIdentityKey: key
        )
        let record = try Pairing.record(for: device)
        #expect(record.primaryAddress == ProtocolAddress(name: "8877_1", deviceId: 0))
        #expect(record.primaryIdentity.rawRepresentation == key)
        #expect(record.lidMapping == LIDMapping(lid: .lid("8877"), phone: .user("60123456789")))
        #expect(JID.user("123", device: 2).signalAddress == ProtocolAddress(name: "123", deviceId: 2))
    }
}
