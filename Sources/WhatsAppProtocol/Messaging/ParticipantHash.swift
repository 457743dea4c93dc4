import Crypto
import Foundation

/// The participant list hash the server sends back as `phash` in a message's ack
/// (whatsmeow send.go: participantListHashV2): `2:` and the unpadded base64 of the first 6 bytes
/// of SHA-256 over the sorted `user.agent:device@server` strings, concatenated. A different
/// `phash` means the device list used for encryption was out of date.
public enum ParticipantHash {
    public static func v2(_ devices: [JID]) -> String {
        let joined = devices.map { "\($0.user).\($0.agent):\($0.device)@\($0.server)" }.sorted().joined()
        let digest = Data(SHA256.hash(data: Data(joined.utf8)).prefix(6))
        return "2:" + digest.base64EncodedString().replacingOccurrences(of: "=", with: "")
    }
}
