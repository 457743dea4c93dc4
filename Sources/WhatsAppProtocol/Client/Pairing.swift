import Foundation
import SignalProtocol

/// The pairing steps between the stanzas and the store (whatsmeow pair.go, qrchan.go).
public enum Pairing {
    /// What a server IQ about pairing asks for.
    public enum Request: Sendable, Equatable {
        case pairDevice(refs: [String])
        case pairSuccess
    }

    /// whatsmeow pair.go: handleIQ only answers IQs from `s.whatsapp.net` with exactly one
    /// child, `pair-device` or `pair-success`; anything else is not a pairing request.
    public static func request(in stanza: BinaryNode) -> Request? {
        guard stanza.tag == "iq", stanza.attributes.jid("from") == .server, stanza.children.count == 1 else { return nil }
        switch stanza.children[0].tag {
        case "pair-device": return stanza.pairingRefs.map { .pairDevice(refs: $0) }
        case "pair-success": return .pairSuccess
        default: return nil
        }
    }

    /// How long a QR code stays valid: 60 s while six refs remain (the first of the usual six),
    /// 20 s otherwise (whatsmeow qrchan.go: emitQRs).
    public static func validity(remainingRefs: Int) -> Duration {
        remainingRefs == 6 ? PairingRefRotation.firstDuration : PairingRefRotation.laterDuration
    }

    /// What to store for a verified pair-success: the device, the primary's identity under its
    /// LID user's device 0 (or the phone-number user's when no LID came), the LID↔phone pair.
    public static func record(for device: PairedDevice) throws -> PairingRecord {
        let identity = try ECPublicKey(rawRepresentation: device.primaryIdentityKey)
        let primary = (device.lid ?? device.jid).withoutDevice
        return PairingRecord(
            device: device,
            primaryIdentity: identity,
            primaryAddress: primary.signalAddress,
            lidMapping: device.lid.map { LIDMapping(lid: $0, phone: device.jid) }
        )
    }

    /// The server time offset from a stanza's `t` (Unix seconds), against `now`.
    public static func serverTimeOffset(_ stanza: BinaryNode, now: Date) -> Duration? {
        guard let text = stanza.attributes.string("t"), let seconds = Int64(text) else { return nil }
        return .milliseconds(seconds * 1000 - Int64((now.timeIntervalSince1970 * 1000).rounded()))
    }
}

extension JID {
    /// The Signal address of this device: `user[_agent]` and the device number, where the
    /// agent is the wire domain (1 for LID; whatsmeow types/jid.go: SignalAddress).
    public var signalAddress: ProtocolAddress {
        let name = domain == 0 ? user : "\(user)_\(domain)"
        return ProtocolAddress(name: name, deviceId: UInt32(device))
    }
}
