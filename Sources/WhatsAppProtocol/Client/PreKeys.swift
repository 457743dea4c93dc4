import Foundation
import SignalProtocol

/// One-time prekeys on the server (whatsmeow prekeys.go): the count query, the upload, and
/// when to upload how many.
public enum PreKeys {
    /// whatsmeow prekeys.go: WantedPreKeyCount.
    public static let batchCount = 50
    /// Upload when the server or the store holds fewer (MinPreKeyCount).
    public static let minimumCount = 5
    /// The very first upload, when neither the server nor the store has any.
    public static let initialCount = 812
    /// A second upload this soon after the last is skipped when the server already has a batch.
    public static let uploadGuard: Duration = .seconds(600)

    /// `<iq xmlns="encrypt" type="get"><count/></iq>`.
    public static let countQuery = InfoQuery(namespace: "encrypt", kind: .get, content: [BinaryNode(tag: "count")])

    public enum Failure: Error, Equatable, Sendable {
        case malformedCount
    }

    /// The server's count from `<iq type="result"><count value=N/></iq>`.
    public static func serverCount(in answer: BinaryNode) throws(Failure) -> Int {
        guard let text = answer.child("count")?.attributes.string("value"), let value = Int(text) else { throw .malformedCount }
        return value
    }

    /// How many prekeys to upload now, or nil for none (whatsmeow connectionevents.go:
    /// handleConnectSuccess and prekeys.go: uploadPreKeys).
    public static func uploadSize(serverCount: Int, uploadedCount: Int) -> Int? {
        guard serverCount < minimumCount || uploadedCount < minimumCount else { return nil }
        return serverCount == 0 && uploadedCount == 0 ? initialCount : batchCount
    }

    /// Whether the 10-minute guard cancels an upload: a recent upload, and the server already
    /// holds a full batch.
    public static func guardCancels(lastUpload: ContinuousClock.Instant?, now: ContinuousClock.Instant, serverCount: Int) -> Bool {
        guard let lastUpload, now - lastUpload < uploadGuard else { return false }
        return serverCount >= batchCount
    }

    /// The prekeys to upload: those generated earlier and never uploaded, then new ones. The
    /// new ones are stored (with the next id advanced) before this returns, so nothing is
    /// uploaded that the store does not hold, and no id is given out twice.
    public static func prepare(count: Int, store: any ClientStateStore) async throws -> [PreKeyRecord] {
        var keys = try await store.preKeysNotUploaded(limit: count)
        if keys.count < count {
            let start = try await store.nextPreKeyID()
            let fresh = KeyHelper.generatePreKeys(start: start, count: count - keys.count)
            try await store.storeGeneratedPreKeys(fresh)
            keys += fresh
        }
        return keys
    }

    /// The upload IQ: registration id, key type, identity, the prekeys, the signed prekey, in
    /// this order (whatsmeow prekeys.go: uploadPreKeys).
    public static func uploadQuery(credentials: DeviceCredentials, preKeys: [PreKeyRecord]) -> InfoQuery {
        let signed = credentials.signedPreKey
        return InfoQuery(
            namespace: "encrypt", kind: .set,
            content: [
                BinaryNode(tag: "registration", content: .bytes(bigEndian(credentials.registrationID, bytes: 4))),
                BinaryNode(tag: "type", content: .bytes(Data([ECPublicKey.typeByte]))),
                BinaryNode(tag: "identity", content: .bytes(credentials.identityKey.publicKey.rawRepresentation)),
                BinaryNode(
                    tag: "list",
                    children: preKeys.map { key in
                        BinaryNode(
                            tag: "key",
                            children: [
                                BinaryNode(tag: "id", content: .bytes(bigEndian(key.id, bytes: 3))),
                                BinaryNode(tag: "value", content: .bytes(key.keyPair.publicKey.rawRepresentation)),
                            ])
                    }),
                BinaryNode(
                    tag: "skey",
                    children: [
                        BinaryNode(tag: "id", content: .bytes(bigEndian(signed.id, bytes: 3))),
                        BinaryNode(tag: "value", content: .bytes(signed.publicKey)),
                        BinaryNode(tag: "signature", content: .bytes(signed.signature)),
                    ]),
            ])
    }

    static func bigEndian(_ value: UInt32, bytes: Int) -> Data {
        Data((0..<bytes).reversed().map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) })
    }
}
