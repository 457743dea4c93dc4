import Foundation
import Testing

@testable import SignalProtocol

@Suite("Sender keys with python-axolotl")
struct SenderKeyInteropTests {
    static let group = "120363000000000000@g.us"
    static let swiftAddress = ProtocolAddress(name: "swift", deviceId: 1)
    static let peerAddress = ProtocolAddress(name: "peer", deviceId: 1)

    @Test("The peer decrypts Swift's group messages, delivered out of order")
    func swiftSends() async throws {
        let peer = SignalPeer()
        defer { peer.remove() }
        let store = InMemorySignalProtocolStore()
        let name = SenderKeyName(groupId: Self.group, sender: Self.swiftAddress)
        let distribution = try await GroupSessionBuilder(store: store).create(for: name)
        #expect(distribution.serialized.first == 0x33)
        let cipher = GroupCipher(store: store, name: name)
        var messages: [(SenderKeyMessage, Data)] = []
        for index in 0..<12 {
            let text = Data("group message \(index)".utf8)
            messages.append((try await cipher.encrypt(WhatsAppPadding.pad(text)), text))
        }
        #expect(messages.map(\.0.iteration) == Array(0..<12))
        messages.shuffle()
        let peerName: [String: any Sendable] = ["group": Self.group, "name": Self.swiftAddress.name, "device": 1]
        let results = try await peer.run(
            [peerName.merging(["op": "group_process", "distribution": distribution.serialized.hex]) { $1 }]
                + messages.map { peerName.merging(["op": "group_decrypt", "ciphertext": $0.0.serialized.hex]) { $1 } }
        )
        #expect(results[0]["error"] == nil)
        for (result, (_, text)) in zip(results.dropFirst(), messages) {
            let plaintext = try #require(result.bytes("plaintext"), "peer failed: \(result["error"] ?? "")")
            #expect(try WhatsAppPadding.unpad(plaintext) == text)
        }
    }

    @Test("Swift decrypts the peer's group messages, delivered out of order, and rejects a replay")
    func peerSends() async throws {
        let peer = SignalPeer()
        defer { peer.remove() }
        let peerName: [String: any Sendable] = ["group": Self.group, "name": Self.peerAddress.name, "device": 1]
        let texts = (0..<12).map { Data("from the peer \($0)".utf8) }
        let results = try await peer.run(
            [peerName.merging(["op": "group_create"]) { $1 }]
                + texts.map { peerName.merging(["op": "group_encrypt", "plaintext": $0.hex]) { $1 } }
        )
        let store = InMemorySignalProtocolStore()
        let name = SenderKeyName(groupId: Self.group, sender: Self.peerAddress)
        let distribution = try SenderKeyDistributionMessage(serialized: try #require(results[0].bytes("distribution")))
        try await GroupSessionBuilder(store: store).process(distribution, from: name)
        let cipher = GroupCipher(store: store, name: name)
        let ciphertexts = try results.dropFirst().map { try #require($0.bytes("ciphertext")) }
        #expect(ciphertexts.allSatisfy { $0.count > 64 && $0.first == 0x33 })
        for index in Array(texts.indices).shuffled() {
            #expect(try await cipher.decrypt(serialized: ciphertexts[index]) == texts[index])
        }
        await #expect(throws: SignalError.duplicateMessage) { try await cipher.decrypt(serialized: ciphertexts[4]) }
        // The record survives serialization with its chain position.
        let record = try #require(await store.loadSenderKey(for: name))
        await store.storeSenderKey(try SenderKeyRecord(serialized: record.serialized), for: name)
        await #expect(throws: SignalError.duplicateMessage) { try await cipher.decrypt(serialized: ciphertexts[11]) }
    }
}
