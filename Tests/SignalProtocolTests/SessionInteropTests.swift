import Foundation
import Testing

@testable import SignalProtocol

/// Sessions between this implementation and python-axolotl (Tests/peers/signal_peer.py).
@Suite("Sessions with python-axolotl")
struct SessionInteropTests {
    static let peerAddress = ProtocolAddress(name: "peer", deviceId: 1)
    /// How the peer addresses us.
    static let swiftName = "swift"

    /// Starts a session from the peer's bundle (using its one-time prekey `preKeyIndex`).
    private func startSessionWithPeer(_ peer: SignalPeer, store: InMemorySignalProtocolStore, preKeyIndex: Int? = 0) async throws {
        let bundle = try await peer.call(["op": "setup", "preKeys": 3, "preKeyStart": 100, "signedPreKeyId": 7])
        let preKeys = try #require(bundle["preKeys"] as? [any Sendable])
        var preKeyId: UInt32?
        var preKeyPublic: ECPublicKey?
        if let preKeyIndex {
            let preKey = try #require(preKeys[preKeyIndex] as? [String: any Sendable])
            preKeyId = UInt32(try #require(preKey.int("id")))
            preKeyPublic = try ECPublicKey(serialized: try #require(preKey.bytes("public")))
        }
        try await SessionBuilder(store: store, address: Self.peerAddress).process(
            PreKeyBundle(
                registrationId: UInt32(try #require(bundle.int("registrationId"))),
                deviceId: 1,
                preKeyId: preKeyId,
                preKeyPublic: preKeyPublic,
                signedPreKeyId: UInt32(try #require(bundle.int("signedPreKeyId"))),
                signedPreKeyPublic: try ECPublicKey(serialized: try #require(bundle.bytes("signedPreKey"))),
                signedPreKeySignature: try #require(bundle.bytes("signature")),
                identityKey: try ECPublicKey(serialized: try #require(bundle.bytes("identityKey")))
            ))
    }

    private static func decryptCommand(_ message: CiphertextMessage) -> [String: any Sendable] {
        ["op": "decrypt", "name": swiftName, "type": message.whatsAppType, "ciphertext": message.serialized.hex]
    }

    @Test("Swift starts a session from the peer's prekey bundle; the peer decrypts and replies")
    func swiftInitiates() async throws {
        let peer = SignalPeer()
        defer { peer.remove() }
        let store = InMemorySignalProtocolStore()
        try await startSessionWithPeer(peer, store: store, preKeyIndex: 1)
        let cipher = SessionCipher(store: store, address: Self.peerAddress)

        let texts = ["hello", "from", "swift"].map { Data($0.utf8) }
        var messages: [CiphertextMessage] = []
        for text in texts { messages.append(try await cipher.encrypt(text)) }
        #expect(messages.allSatisfy { $0.whatsAppType == "pkmsg" })
        if case .preKey(let first) = messages[0] {
            #expect(first.preKeyId == 101)
            #expect(first.signedPreKeyId == 7)
            #expect(first.serialized.first == 0x33)
        }
        // Delivered out of order: the peer builds the session from the last one.
        let results = try await peer.run(
            [2, 0, 1].map { Self.decryptCommand(messages[$0]) } + [
                ["op": "encrypt", "name": Self.swiftName, "plaintext": Data("reply".utf8).hex]
            ])
        #expect(results[0].bytes("plaintext") == texts[2])
        #expect(results[1].bytes("plaintext") == texts[0])
        #expect(results[2].bytes("plaintext") == texts[1])
        #expect(results[3]["type"] as? String == "msg")

        let reply = try SignalMessage(serialized: try #require(results[3].bytes("ciphertext")))
        #expect(try await cipher.decrypt(reply) == Data("reply".utf8))
        // The reply acknowledged the session: no more prekey messages.
        let next = try await cipher.encrypt(Data("acknowledged".utf8))
        #expect(next.whatsAppType == "msg")
        let last = try await peer.run([Self.decryptCommand(next)])
        #expect(last[0].bytes("plaintext") == Data("acknowledged".utf8))
    }

    /// python-axolotl reads an absent preKeyId as 0, so only this direction can be checked
    /// against it; Swift-to-Swift sessions without one-time prekeys are in SessionTests.
    @Test("The peer starts a session from a bundle without a one-time prekey")
    func peerInitiatesWithoutOneTimePreKey() async throws {
        let peer = SignalPeer()
        defer { peer.remove() }
        let identity = KeyHelper.generateIdentityKeyPair()
        let store = InMemorySignalProtocolStore(identity: identity, registrationId: 77)
        let signedPreKey = KeyHelper.generateSignedPreKey(identity: identity, id: 9)
        await store.storeSignedPreKey(signedPreKey)
        let results = try await peer.run([
            [
                "op": "process_bundle", "name": Self.swiftName, "registrationId": 77,
                "signedPreKeyId": 9, "signedPreKey": signedPreKey.keyPair.publicKey.serialized.hex,
                "signature": signedPreKey.signature.hex, "identityKey": identity.publicKey.serialized.hex,
            ],
            ["op": "encrypt", "name": Self.swiftName, "plaintext": Data("no one-time key".utf8).hex],
        ])
        let message = try PreKeySignalMessage(serialized: try #require(results[1].bytes("ciphertext")))
        #expect(message.preKeyId == nil)
        #expect(try await SessionCipher(store: store, address: Self.peerAddress).decrypt(message) == Data("no one-time key".utf8))
    }

    @Test("The peer starts a session from Swift's bundle; Swift decrypts, consumes the prekey and replies")
    func peerInitiates() async throws {
        let peer = SignalPeer()
        defer { peer.remove() }
        let identity = KeyHelper.generateIdentityKeyPair()
        let store = InMemorySignalProtocolStore(identity: identity, registrationId: 4242)
        let signedPreKey = KeyHelper.generateSignedPreKey(identity: identity, id: 3)
        await store.storeSignedPreKey(signedPreKey)
        let preKeys = KeyHelper.generatePreKeys(start: 50, count: 2)
        for preKey in preKeys { await store.storePreKey(preKey) }

        let results = try await peer.run([
            [
                "op": "process_bundle", "name": Self.swiftName, "registrationId": 4242,
                "preKeyId": Int(preKeys[1].id), "preKey": preKeys[1].keyPair.publicKey.serialized.hex,
                "signedPreKeyId": 3, "signedPreKey": signedPreKey.keyPair.publicKey.serialized.hex,
                "signature": signedPreKey.signature.hex, "identityKey": identity.publicKey.serialized.hex,
            ],
            ["op": "encrypt", "name": Self.swiftName, "plaintext": Data("first".utf8).hex],
            ["op": "encrypt", "name": Self.swiftName, "plaintext": Data("second".utf8).hex],
            ["op": "identity"],
        ])
        #expect(results[0]["error"] == nil)
        #expect(results[1]["type"] as? String == "pkmsg")
        let cipher = SessionCipher(store: store, address: Self.peerAddress)
        // Second first: the session is built from whichever arrives first.
        let second = try PreKeySignalMessage(serialized: try #require(results[2].bytes("ciphertext")))
        #expect(second.registrationId == UInt32(try #require(results[3].int("registrationId"))))
        #expect(try await cipher.decrypt(second) == Data("second".utf8))
        #expect(await store.loadPreKey(id: preKeys[1].id) == nil, "the one-time prekey is consumed")
        #expect(await store.loadPreKey(id: preKeys[0].id) != nil)
        let first = try PreKeySignalMessage(serialized: try #require(results[1].bytes("ciphertext")))
        #expect(try await cipher.decrypt(first) == Data("first".utf8))
        #expect(await store.identity(for: Self.peerAddress)?.serialized == results[3].bytes("identityKey"))

        let reply = try await cipher.encrypt(Data("reply from swift".utf8))
        #expect(reply.whatsAppType == "msg")
        let decrypted = try await peer.call(Self.decryptCommand(reply))
        #expect(decrypted.bytes("plaintext") == Data("reply from swift".utf8))
    }

    /// Six rounds of five messages each way, every batch delivered shuffled, one message in each
    /// direction held back across two ratchet steps, and the Swift session record reloaded from
    /// bytes each round.
    @Test("A 60-message conversation in both directions with out-of-order delivery")
    func conversation() async throws {
        let peer = SignalPeer()
        defer { peer.remove() }
        let store = InMemorySignalProtocolStore()
        try await startSessionWithPeer(peer, store: store)
        let cipher = SessionCipher(store: store, address: Self.peerAddress)

        var heldBack: (message: CiphertextMessage, text: Data)?
        var peerHeldBack: (Data, [String: any Sendable])?
        var delivered = 0
        for round in 0..<6 {
            var outgoing: [(message: CiphertextMessage, text: Data)] = []
            for index in 0..<5 {
                let text = Data("swift round \(round) message \(index) ".utf8) + Data(repeating: UInt8(index), count: round * 7)
                outgoing.append((try await cipher.encrypt(WhatsAppPadding.pad(text)), text))
            }
            if round == 1 { heldBack = outgoing.removeLast() }
            if round == 3, let held = heldBack { outgoing.append(held) }
            outgoing.shuffle()

            let peerTexts = (0..<5).map { Data("peer round \(round) message \($0)".utf8) }
            let results = try await peer.run(
                outgoing.map { Self.decryptCommand($0.message) }
                    + peerTexts.map { ["op": "encrypt", "name": Self.swiftName, "plaintext": WhatsAppPadding.pad($0).hex] }
            )
            for (result, sent) in zip(results, outgoing) {
                let plaintext = try #require(result.bytes("plaintext"), "peer failed: \(result["error"] ?? "")")
                #expect(try WhatsAppPadding.unpad(plaintext) == sent.text)
                delivered += 1
            }

            // Persist and reload the session between rounds, as the gateway's database would.
            let record = try #require(await store.loadSession(for: Self.peerAddress))
            await store.storeSession(try SessionRecord(serialized: record.serialized), for: Self.peerAddress)

            var incoming = Array(zip(peerTexts, results.suffix(5)))
            if round == 1 { peerHeldBack = incoming.removeLast() }
            if round == 3, let held = peerHeldBack { incoming.append(held) }
            incoming.shuffle()
            for (text, result) in incoming {
                let ciphertext = try #require(result.bytes("ciphertext"))
                let plaintext = try await cipher.decrypt(serialized: ciphertext, isPreKeyMessage: result["type"] as? String == "pkmsg")
                #expect(try WhatsAppPadding.unpad(plaintext) == text)
                delivered += 1
            }
        }
        #expect(delivered == 60)
    }
}
