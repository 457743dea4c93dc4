import Foundation
import Testing

@testable import SignalProtocol

/// A device with published keys, for Swift-to-Swift sessions.
struct TestDevice {
    let address: ProtocolAddress
    let identity: IdentityKeyPair
    let store: InMemorySignalProtocolStore
    let signedPreKey: SignedPreKeyRecord
    let preKeys: [PreKeyRecord]

    static func make(_ name: String, preKeys count: Int = 3) async -> TestDevice {
        let identity = KeyHelper.generateIdentityKeyPair()
        let store = InMemorySignalProtocolStore(identity: identity)
        let signedPreKey = KeyHelper.generateSignedPreKey(identity: identity, id: 1)
        await store.storeSignedPreKey(signedPreKey)
        let preKeys = KeyHelper.generatePreKeys(start: 1, count: count)
        for preKey in preKeys { await store.storePreKey(preKey) }
        return TestDevice(
            address: ProtocolAddress(name: name, deviceId: 1), identity: identity, store: store,
            signedPreKey: signedPreKey, preKeys: preKeys)
    }

    func bundle(preKeyIndex: Int? = 0) async -> PreKeyBundle {
        let preKey = preKeyIndex.map { preKeys[$0] }
        return PreKeyBundle(
            registrationId: await store.localRegistrationId(), deviceId: 1,
            preKeyId: preKey?.id, preKeyPublic: preKey?.keyPair.publicKey,
            signedPreKeyId: signedPreKey.id, signedPreKeyPublic: signedPreKey.keyPair.publicKey,
            signedPreKeySignature: signedPreKey.signature, identityKey: identity.publicKey
        )
    }

    func cipher(for other: TestDevice, maximumSkippedMessages: Int = 2000) -> SessionCipher<InMemorySignalProtocolStore> {
        SessionCipher(store: store, address: other.address, maximumSkippedMessages: maximumSkippedMessages)
    }

    /// Starts a session with `other` and lets it answer once, so both sides send SignalMessages.
    func establish(with other: TestDevice) async throws {
        try await SessionBuilder(store: store, address: other.address).process(await other.bundle())
        let first = try await cipher(for: other).encrypt(Data("hi".utf8))
        _ = try await other.cipher(for: self).decrypt(serialized: first.serialized, isPreKeyMessage: true)
        let reply = try await other.cipher(for: self).encrypt(Data("hello".utf8))
        _ = try await cipher(for: other).decrypt(serialized: reply.serialized, isPreKeyMessage: false)
    }
}

@Suite("Sessions")
struct SessionTests {
    @Test("keys serialize with the 0x05 type byte and bad keys are rejected")
    func publicKeys() throws {
        let pair = ECKeyPair.generate()
        let serialized = pair.publicKey.serialized
        #expect(serialized.count == 33 && serialized.first == 0x05)
        #expect(try ECPublicKey(serialized: serialized) == pair.publicKey)
        #expect(throws: SignalError.invalidKey) { try ECPublicKey(serialized: Data([0x06]) + serialized.dropFirst()) }
        #expect(throws: SignalError.invalidKey) { try ECPublicKey(serialized: serialized.dropLast()) }
    }

    @Test("prekey ids are consecutive and wrap within 24 bits, skipping zero")
    func preKeyIds() {
        #expect(KeyHelper.generatePreKeys(start: 10, count: 3).map(\.id) == [10, 11, 12])
        #expect(KeyHelper.generatePreKeys(start: 0xFF_FFFE, count: 3).map(\.id) == [0xFF_FFFE, 0xFF_FFFF, 1])
        let registrationId = KeyHelper.generateRegistrationId()
        #expect((1...16380).contains(registrationId))
    }

    @Test("prekey and signed prekey records round-trip through bytes")
    func keyRecords() throws {
        let identity = KeyHelper.generateIdentityKeyPair()
        let signed = KeyHelper.generateSignedPreKey(identity: identity, id: 5)
        #expect(identity.publicKey.isValid(signature: signed.signature, for: signed.keyPair.publicKey.serialized))
        let signedCopy = try SignedPreKeyRecord(serialized: signed.serialized)
        #expect(signedCopy.id == 5 && signedCopy.signature == signed.signature && signedCopy.timestamp == signed.timestamp)
        #expect(signedCopy.keyPair.publicKey == signed.keyPair.publicKey)
        let preKey = KeyHelper.generatePreKeys(start: 9, count: 1)[0]
        let preKeyCopy = try PreKeyRecord(serialized: preKey.serialized)
        #expect(preKeyCopy.id == 9 && preKeyCopy.keyPair.privateKey.rawRepresentation == preKey.keyPair.privateKey.rawRepresentation)
        #expect(throws: SignalError.self) { try PreKeyRecord(serialized: Data([0xFF, 0xFF])) }
    }

    @Test("a session without a one-time prekey works in both directions")
    func withoutOneTimePreKey() async throws {
        let alice = await TestDevice.make("alice"), bob = await TestDevice.make("bob")
        try await SessionBuilder(store: alice.store, address: bob.address).process(await bob.bundle(preKeyIndex: nil))
        let message = try await alice.cipher(for: bob).encrypt(Data("ping".utf8))
        guard case .preKey(let preKeyMessage) = message else { Issue.record("expected pkmsg"); return }
        #expect(preKeyMessage.preKeyId == nil)
        #expect(try await bob.cipher(for: alice).decrypt(preKeyMessage) == Data("ping".utf8))
        let reply = try await bob.cipher(for: alice).encrypt(Data("pong".utf8))
        #expect(try await alice.cipher(for: bob).decrypt(serialized: reply.serialized, isPreKeyMessage: false) == Data("pong".utf8))
    }

    @Test("a tampered MAC or ciphertext fails with invalidMAC and leaves the session usable")
    func badMAC() async throws {
        let alice = await TestDevice.make("alice"), bob = await TestDevice.make("bob")
        try await alice.establish(with: bob)
        let message = try await alice.cipher(for: bob).encrypt(Data("authentic".utf8)).serialized
        for position in [message.count - 1, message.count - 12] {
            var forged = message
            forged[position] ^= 0x01
            await #expect(throws: SignalError.invalidMAC) {
                try await bob.cipher(for: alice).decrypt(serialized: forged, isPreKeyMessage: false)
            }
        }
        #expect(try await bob.cipher(for: alice).decrypt(serialized: message, isPreKeyMessage: false) == Data("authentic".utf8))
    }

    @Test("a PreKeySignalMessage naming a missing one-time prekey fails with unknownPreKey")
    func unknownPreKey() async throws {
        let alice = await TestDevice.make("alice"), bob = await TestDevice.make("bob")
        try await SessionBuilder(store: alice.store, address: bob.address).process(await bob.bundle(preKeyIndex: 2))
        await bob.store.removePreKey(id: bob.preKeys[2].id)
        let message = try await alice.cipher(for: bob).encrypt(Data("x".utf8))
        await #expect(throws: SignalError.unknownPreKey(bob.preKeys[2].id)) {
            try await bob.cipher(for: alice).decrypt(serialized: message.serialized, isPreKeyMessage: true)
        }
        #expect(await bob.store.loadSession(for: alice.address) == nil, "nothing is stored on failure")
    }

    @Test("a PreKeySignalMessage naming a missing signed prekey fails with unknownSignedPreKey")
    func unknownSignedPreKey() async throws {
        let alice = await TestDevice.make("alice"), bob = await TestDevice.make("bob")
        var bundle = await bob.bundle()
        bundle.signedPreKeyId = 99
        try await SessionBuilder(store: alice.store, address: bob.address).process(bundle)
        let message = try await alice.cipher(for: bob).encrypt(Data("x".utf8))
        await #expect(throws: SignalError.unknownSignedPreKey(99)) {
            try await bob.cipher(for: alice).decrypt(serialized: message.serialized, isPreKeyMessage: true)
        }
    }

    @Test("a bundle whose signed prekey signature does not verify is refused")
    func badBundleSignature() async throws {
        let alice = await TestDevice.make("alice"), bob = await TestDevice.make("bob")
        var bundle = await bob.bundle()
        bundle.signedPreKeySignature[10] ^= 0x40
        await #expect(throws: SignalError.invalidSignature) {
            try await SessionBuilder(store: alice.store, address: bob.address).process(bundle)
        }
        #expect(await alice.store.loadSession(for: bob.address) == nil)
    }

    @Test("a message decrypted twice fails with duplicateMessage")
    func duplicateMessage() async throws {
        let alice = await TestDevice.make("alice"), bob = await TestDevice.make("bob")
        try await alice.establish(with: bob)
        let cipher = alice.cipher(for: bob)
        let first = try await cipher.encrypt(Data("one".utf8)).serialized
        let second = try await cipher.encrypt(Data("two".utf8)).serialized
        // Out of order: the second first, then the skipped first, then both again.
        #expect(try await bob.cipher(for: alice).decrypt(serialized: second, isPreKeyMessage: false) == Data("two".utf8))
        #expect(try await bob.cipher(for: alice).decrypt(serialized: first, isPreKeyMessage: false) == Data("one".utf8))
        for message in [first, second] {
            await #expect(throws: SignalError.duplicateMessage) {
                try await bob.cipher(for: alice).decrypt(serialized: message, isPreKeyMessage: false)
            }
        }
    }

    @Test("a message further ahead than the skipped-key bound fails with tooManySkippedMessages")
    func tooManySkipped() async throws {
        let alice = await TestDevice.make("alice"), bob = await TestDevice.make("bob")
        try await alice.establish(with: bob)
        var messages: [Data] = []
        for index in 0..<13 { messages.append(try await alice.cipher(for: bob).encrypt(Data("m\(index)".utf8)).serialized) }
        let bounded = bob.cipher(for: alice, maximumSkippedMessages: 10)
        await #expect(throws: SignalError.tooManySkippedMessages) {
            try await bounded.decrypt(serialized: messages[12], isPreKeyMessage: false)
        }
        // Exactly at the bound is still fine, and the skipped keys then serve the others.
        #expect(try await bounded.decrypt(serialized: messages[10], isPreKeyMessage: false) == Data("m10".utf8))
        #expect(try await bounded.decrypt(serialized: messages[3], isPreKeyMessage: false) == Data("m3".utf8))
        #expect(try await bounded.decrypt(serialized: messages[12], isPreKeyMessage: false) == Data("m12".utf8))
    }

    @Test("a version byte other than 3 fails with invalidVersion", arguments: [UInt8(0x23), 0x43, 0x13, 0x00])
    func wrongVersion(byte: UInt8) async throws {
        let alice = await TestDevice.make("alice"), bob = await TestDevice.make("bob")
        try await SessionBuilder(store: alice.store, address: bob.address).process(await bob.bundle())
        var preKeyMessage = try await alice.cipher(for: bob).encrypt(Data("x".utf8)).serialized
        preKeyMessage[0] = byte
        #expect(throws: SignalError.invalidVersion(byte)) { try PreKeySignalMessage(serialized: preKeyMessage) }
        let inner = try #require(try? PreKeySignalMessage(serialized: try await alice.cipher(for: bob).encrypt(Data("y".utf8)).serialized))
        var signalMessage = inner.message.serialized
        signalMessage[0] = byte
        #expect(throws: SignalError.invalidVersion(byte)) { try SignalMessage(serialized: signalMessage) }
        #expect(throws: SignalError.invalidVersion(byte)) { try SenderKeyMessage(serialized: Data([byte]) + Data(count: 80)) }
        // 0x32 is still version 3 (the low nibble is only the sender's maximum).
        signalMessage[0] = 0x32
        #expect(throws: Never.self) { try SignalMessage(serialized: signalMessage) }
    }

    @Test("malformed messages fail with invalidMessage")
    func malformed() {
        #expect(throws: SignalError.invalidMessage("SignalMessage too short")) { try SignalMessage(serialized: Data([0x33, 1, 2])) }
        #expect(throws: SignalError.self) { try SignalMessage(serialized: Data([0x33]) + Data(repeating: 0xFF, count: 20)) }
        #expect(throws: SignalError.self) { try PreKeySignalMessage(serialized: Data()) }
    }

    @Test("decrypting without a session fails with noSession; encrypting too")
    func noSession() async throws {
        let alice = await TestDevice.make("alice"), bob = await TestDevice.make("bob"), carol = await TestDevice.make("carol")
        try await alice.establish(with: bob)
        let message = try await alice.cipher(for: bob).encrypt(Data("x".utf8)).serialized
        await #expect(throws: SignalError.noSession(alice.address)) {
            try await carol.cipher(for: alice).decrypt(serialized: message, isPreKeyMessage: false)
        }
        await #expect(throws: SignalError.noSession(bob.address)) { try await carol.cipher(for: bob).encrypt(Data()) }
    }

    @Test("a new identity for a known address is untrusted")
    func untrustedIdentity() async throws {
        let alice = await TestDevice.make("alice"), bob = await TestDevice.make("bob")
        try await alice.establish(with: bob)
        // Someone else claims to be Alice with another identity key.
        let impostor = await TestDevice.make("alice")
        try await SessionBuilder(store: impostor.store, address: bob.address).process(await bob.bundle(preKeyIndex: 1))
        let message = try await impostor.cipher(for: bob).encrypt(Data("trust me".utf8))
        await #expect(throws: SignalError.untrustedIdentity(alice.address)) {
            try await bob.cipher(for: alice).decrypt(serialized: message.serialized, isPreKeyMessage: true)
        }
        // And Alice will not start a session with a bundle carrying another identity for Bob.
        let otherBob = await TestDevice.make("bob")
        await #expect(throws: SignalError.untrustedIdentity(bob.address)) {
            try await SessionBuilder(store: alice.store, address: bob.address).process(await otherBob.bundle())
        }
    }

    @Test("a retransmitted PreKeySignalMessage decrypts against the existing session without a new one")
    func retransmittedPreKeyMessage() async throws {
        let alice = await TestDevice.make("alice"), bob = await TestDevice.make("bob")
        try await SessionBuilder(store: alice.store, address: bob.address).process(await bob.bundle())
        let first = try await alice.cipher(for: bob).encrypt(Data("1".utf8)).serialized
        let second = try await alice.cipher(for: bob).encrypt(Data("2".utf8)).serialized
        #expect(try await bob.cipher(for: alice).decrypt(serialized: first, isPreKeyMessage: true) == Data("1".utf8))
        // The one-time prekey is gone, yet the second message still decrypts: same base key.
        #expect(await bob.store.loadPreKey(id: bob.preKeys[0].id) == nil)
        #expect(try await bob.cipher(for: alice).decrypt(serialized: second, isPreKeyMessage: true) == Data("2".utf8))
        await #expect(throws: SignalError.duplicateMessage) {
            try await bob.cipher(for: alice).decrypt(serialized: second, isPreKeyMessage: true)
        }
        #expect(try #require(await bob.store.loadSession(for: alice.address)).previous.isEmpty)
    }

    @Test("messages from an archived session still decrypt after a new session replaces it")
    func archivedSession() async throws {
        let alice = await TestDevice.make("alice"), bob = await TestDevice.make("bob")
        try await alice.establish(with: bob)
        let late = try await alice.cipher(for: bob).encrypt(Data("sent before the reset".utf8)).serialized
        // Alice starts over (e.g. reinstalled session) with Bob's second prekey.
        try await SessionBuilder(store: alice.store, address: bob.address).process(await bob.bundle(preKeyIndex: 1))
        let fresh = try await alice.cipher(for: bob).encrypt(Data("new session".utf8)).serialized
        #expect(try await bob.cipher(for: alice).decrypt(serialized: fresh, isPreKeyMessage: true) == Data("new session".utf8))
        #expect(try await bob.cipher(for: alice).decrypt(serialized: late, isPreKeyMessage: false) == Data("sent before the reset".utf8))
    }

    @Test("session records round-trip through bytes mid-conversation")
    func recordSerialization() async throws {
        let alice = await TestDevice.make("alice"), bob = await TestDevice.make("bob")
        try await alice.establish(with: bob)
        var skipped: [Data] = []
        for index in 0..<4 { skipped.append(try await alice.cipher(for: bob).encrypt(Data("s\(index)".utf8)).serialized) }
        let last = try await alice.cipher(for: bob).encrypt(Data("last".utf8)).serialized
        #expect(try await bob.cipher(for: alice).decrypt(serialized: last, isPreKeyMessage: false) == Data("last".utf8))

        // Reload both sides from bytes only.
        for (device, other) in [(alice, bob), (bob, alice)] {
            let record = try #require(await device.store.loadSession(for: other.address))
            let bytes = record.serialized
            #expect(try SessionRecord(serialized: bytes).serialized == bytes)
            await device.store.storeSession(try SessionRecord(serialized: bytes), for: other.address)
        }
        for (index, message) in skipped.enumerated().reversed() {
            #expect(try await bob.cipher(for: alice).decrypt(serialized: message, isPreKeyMessage: false) == Data("s\(index)".utf8))
        }
        let reply = try await bob.cipher(for: alice).encrypt(Data("after reload".utf8)).serialized
        #expect(try await alice.cipher(for: bob).decrypt(serialized: reply, isPreKeyMessage: false) == Data("after reload".utf8))
        #expect(throws: SignalError.invalidRecord("session record")) { try SessionRecord(serialized: Data([0x0A, 0xFF])) }
    }
}

@Suite("Sender keys")
struct SenderKeyTests {
    let sender = SenderKeyName(groupId: "group", sender: ProtocolAddress(name: "alice", deviceId: 1))

    private func pair() async throws -> (GroupCipher<InMemorySignalProtocolStore>, GroupCipher<InMemorySignalProtocolStore>) {
        let aliceStore = InMemorySignalProtocolStore(), bobStore = InMemorySignalProtocolStore()
        let distribution = try await GroupSessionBuilder(store: aliceStore).create(for: sender)
        try await GroupSessionBuilder(store: bobStore).process(SenderKeyDistributionMessage(serialized: distribution.serialized), from: sender)
        return (GroupCipher(store: aliceStore, name: sender), GroupCipher(store: bobStore, name: sender))
    }

    @Test("creating twice returns the same key; messages advance the iteration")
    func creation() async throws {
        let store = InMemorySignalProtocolStore()
        let first = try await GroupSessionBuilder(store: store).create(for: sender)
        _ = try await GroupCipher(store: store, name: sender).encrypt(Data("x".utf8))
        let second = try await GroupSessionBuilder(store: store).create(for: sender)
        #expect(first.keyId == second.keyId && first.signingKey == second.signingKey)
        #expect(first.iteration == 0 && second.iteration == 1)
    }

    @Test("a tampered signature fails with invalidSignature; an unknown key id with noSenderKey")
    func badSignature() async throws {
        let (alice, bob) = try await pair()
        let message = try await alice.encrypt(Data("signed".utf8)).serialized
        var forged = message
        forged[forged.count - 70] ^= 0x01  // inside the ciphertext, covered by the signature
        await #expect(throws: SignalError.invalidSignature) { try await bob.decrypt(serialized: forged) }
        #expect(try await bob.decrypt(serialized: message) == Data("signed".utf8))

        let stranger = GroupCipher(store: InMemorySignalProtocolStore(), name: sender)
        let keyId = try SenderKeyMessage(serialized: message).keyId
        await #expect(throws: SignalError.noSenderKey(keyId: keyId)) { try await stranger.decrypt(serialized: message) }
        await #expect(throws: SignalError.noSenderKey(keyId: nil)) { try await stranger.encrypt(Data()) }
    }

    @Test("group messages decrypt out of order, once, within the skipped-key bound")
    func ordering() async throws {
        let (alice, bob) = try await pair()
        var messages: [Data] = []
        for index in 0..<8 { messages.append(try await alice.encrypt(Data("g\(index)".utf8)).serialized) }
        let bounded = GroupCipher(store: bob.store, name: sender, maximumSkippedMessages: 5)
        await #expect(throws: SignalError.tooManySkippedMessages) { try await bounded.decrypt(serialized: messages[7]) }
        #expect(try await bounded.decrypt(serialized: messages[5]) == Data("g5".utf8))
        #expect(try await bounded.decrypt(serialized: messages[7]) == Data("g7".utf8))
        // Skipping 6 pushed the oldest kept key (0) past the bound: it was evicted.
        await #expect(throws: SignalError.duplicateMessage) { try await bounded.decrypt(serialized: messages[0]) }
        for index in [4, 6, 1, 2, 3] {
            #expect(try await bounded.decrypt(serialized: messages[index]) == Data("g\(index)".utf8))
        }
        await #expect(throws: SignalError.duplicateMessage) { try await bob.decrypt(serialized: messages[2]) }
    }
}

@Suite("WhatsApp padding")
struct PaddingTests {
    @Test("padding adds 1–15 bytes holding the length and unpad removes exactly them (whatsmeow padMessage)")
    func roundTrip() throws {
        var lengths = Set<Int>()
        for index in 0..<600 {
            let plaintext = Data(repeating: 0xAB, count: index % 40)
            let padded = WhatsAppPadding.pad(plaintext)
            let added = padded.count - plaintext.count
            lengths.insert(added)
            #expect((1...15).contains(added))
            #expect(padded.suffix(added).allSatisfy { Int($0) == added })
            #expect(try WhatsAppPadding.unpad(padded) == plaintext)
        }
        #expect(lengths == Set(1...15))
    }

    @Test("a random nibble of 0 pads 15 bytes, any other nibble pads that many")
    func lengthFromTheLowNibble() {
        struct Fixed: RandomNumberGenerator {
            let value: UInt64
            mutating func next() -> UInt64 { value }
        }
        for (value, expected) in [(UInt64(0x00), 15), (0x10, 15), (0x01, 1), (0xFF, 15), (0x37, 7), (0x0E, 14)] {
            var generator = Fixed(value: value)
            #expect(WhatsAppPadding.pad(Data([1, 2]), using: &generator).count == 2 + expected)
        }
    }

    @Test("unpadding rejects empty input, a zero length, a length beyond the message and any padding byte that differs")
    func invalid() {
        for bad in [Data(), Data([1, 2, 0]), Data([9, 9, 9]), Data([7, 3, 2, 3]), Data([1, 2, 1, 3, 2]), Data([5, 4, 4, 3, 4])] {
            #expect(throws: SignalError.self) { try WhatsAppPadding.unpad(bad) }
        }
    }
}
