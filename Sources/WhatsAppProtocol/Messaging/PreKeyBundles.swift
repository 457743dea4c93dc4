import Foundation
import SignalProtocol

/// Other devices' prekey bundles: the `encrypt`/`key` IQ for devices without a Signal session,
/// and the bundle a retry receipt carries (whatsmeow prekeys.go: fetchPreKeys,
/// nodeToPreKeyBundle).
public enum PreKeyBundles {
    public enum Failure: Error, Equatable, Sendable {
        /// The server answered `<error code text>` for this device.
        case server(code: Int, text: String)
        case malformed(String)
    }

    /// `<iq xmlns="encrypt" type="get"><key><user jid=… reason="identity"/>…</key></iq>`.
    public static func query(devices: [JID]) -> InfoQuery {
        InfoQuery(
            namespace: "encrypt", kind: .get,
            content: [
                BinaryNode(tag: "key", children: devices.map { BinaryNode(tag: "user", attributes: ["jid": .jid($0), "reason": "identity"]) })
            ])
    }

    /// The bundle (or the reason there is none) for each device of the answer's `<list>`.
    public static func bundles(in answer: BinaryNode) -> [JID: Result<PreKeyBundle, Failure>] {
        var found: [JID: Result<PreKeyBundle, Failure>] = [:]
        for user in answer.child("list")?.children ?? [] where user.tag == "user" {
            guard let jid = user.attributes.jid("jid") else { continue }
            do {
                found[jid] = .success(try bundle(in: user, deviceID: UInt32(jid.device)))
            } catch {
                found[jid] = .failure(error)
            }
        }
        return found
    }

    /// One device's bundle: `registration` on `node`, the keys on `node` or its `<keys>` child (a
    /// retry receipt), the one-time prekey optional.
    public static func bundle(in node: BinaryNode, deviceID: UInt32) throws(Failure) -> PreKeyBundle {
        if let error = node.child("error") {
            throw .server(code: error.attributes.string("code").flatMap { Int($0) } ?? 0, text: error.attributes.string("text") ?? "")
        }
        guard let registration = node.child("registration")?.contentBytes, registration.count == 4 else { throw .malformed("registration") }
        let keys = node.child("keys") ?? node
        guard let identityBytes = keys.child("identity")?.contentBytes, identityBytes.count == 32,
            let identity = try? ECPublicKey(rawRepresentation: identityBytes)
        else { throw .malformed("identity") }
        guard let signedNode = keys.child("skey"), let signed = try? preKey(in: signedNode),
            let signature = signedNode.child("signature")?.contentBytes,
            signature.count == 64
        else { throw .malformed("skey") }
        var oneTime: (id: UInt32, key: ECPublicKey)?
        if let node = keys.child("key") {
            guard let key = try? preKey(in: node) else { throw .malformed("key") }
            oneTime = key
        }
        return PreKeyBundle(
            registrationId: bigEndian(registration), deviceId: deviceID, preKeyId: oneTime?.id, preKeyPublic: oneTime?.key,
            signedPreKeyId: signed.id, signedPreKeyPublic: signed.key, signedPreKeySignature: signature, identityKey: identity
        )
    }

    /// `<… ><id>3 bytes</id><value>32 bytes</value></…>`.
    private static func preKey(in node: BinaryNode) throws(Failure) -> (id: UInt32, key: ECPublicKey) {
        guard let id = node.child("id")?.contentBytes, id.count == 3, let value = node.child("value")?.contentBytes, value.count == 32,
            let key = try? ECPublicKey(rawRepresentation: value)
        else { throw .malformed(node.tag) }
        return (bigEndian(id), key)
    }

    private static func bigEndian(_ bytes: Data) -> UInt32 {
        bytes.reduce(0) { $0 << 8 | UInt32($1) }
    }
}
