import Foundation
import SwiftProtobuf

extension PreKeyRecord {
    public init(serialized: Data) throws(SignalError) {
        guard let data = try? Signal_Records_PreKeyRecordData(serializedBytes: serialized), data.hasKeyPair else {
            throw .invalidRecord("prekey record")
        }
        self.init(id: data.id, keyPair: try ECKeyPair(record: data.keyPair))
    }

    public var serialized: Data {
        var data = Signal_Records_PreKeyRecordData()
        data.id = id
        data.keyPair = keyPair.record
        return try! data.serializedData()
    }
}

extension SignedPreKeyRecord {
    public init(serialized: Data) throws(SignalError) {
        guard let data = try? Signal_Records_SignedPreKeyRecordData(serializedBytes: serialized), data.hasKeyPair else {
            throw .invalidRecord("signed prekey record")
        }
        self.init(id: data.id, keyPair: try ECKeyPair(record: data.keyPair), signature: data.signature, timestamp: data.timestamp)
    }

    public var serialized: Data {
        var data = Signal_Records_SignedPreKeyRecordData()
        data.id = id
        data.keyPair = keyPair.record
        data.signature = signature
        data.timestamp = timestamp
        return try! data.serializedData()
    }
}
