import BuzzBridgeStorage
import Foundation
import SignalProtocol
import WhatsAppProtocol

/// How protocol records become the bytes the store keeps, and back (whatsmeow's
/// `store/signal.go` role). Signal records use their protobuf forms; the device's credentials and
/// pairing, which Signal does not define, their `Codable` forms as JSON.
enum RecordCoding {
    struct CorruptRecord: Error, CustomStringConvertible {
        let description: String
    }

    static func encode<Value: Encodable>(_ value: Value) throws -> [UInt8] {
        Array(try JSONEncoder().encode(value))
    }

    static func decode<Value: Decodable>(_ type: Value.Type, _ bytes: [UInt8]?) throws -> Value? {
        guard let bytes else { return nil }
        do {
            return try JSONDecoder().decode(type, from: Data(bytes))
        } catch {
            throw CorruptRecord(description: "stored \(type) does not decode: \(error)")
        }
    }

    static func key(_ address: ProtocolAddress) -> ProtocolAddressKey {
        ProtocolAddressKey(user: address.name, device: Int(address.deviceId))
    }

    static func identity(_ bytes: [UInt8]?) throws -> ECPublicKey? {
        guard let bytes else { return nil }
        return try ECPublicKey(serialized: bytes)
    }

    static func preKey(_ stored: StoredPreKey?) throws -> PreKeyRecord? {
        guard let stored else { return nil }
        return try PreKeyRecord(serialized: Data(stored.record))
    }

    static func text(_ bytes: [UInt8]?) -> String? {
        bytes.map { String(decoding: $0, as: UTF8.self) }
    }
}
