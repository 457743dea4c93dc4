import Crypto
import Foundation
import SignalProtocol
import TestSupport
import Testing

@testable import WhatsAppProtocol

@Suite struct CredentialsTests {
    @Test func generatedCredentialsAreSelfConsistent() {
        let credentials = DeviceCredentials.generate()
        #expect(credentials.advSecret.count == 32)
        #expect(credentials.signedPreKey.id == 1)
        let signed = Data([0x05]) + credentials.signedPreKey.publicKey
        #expect(XEdDSA.isValid(signature: credentials.signedPreKey.signature, for: signed, publicKey: credentials.identityKey.publicKey))
        #expect(credentials != DeviceCredentials.generate())
    }

    @Test func signalTypesCarryTheSameKeys() {
        let credentials = DeviceCredentials.generate()
        let record = credentials.signedPreKeyRecord()
        #expect(record.id == 1)
        #expect(record.keyPair.publicKey.rawRepresentation == credentials.signedPreKey.publicKey)
        #expect(credentials.identityKeyPair.publicKey.isValid(signature: record.signature, for: record.keyPair.publicKey.serialized))
    }

    @Test func storeCreatesOnceAndReloads() async throws {
        let store = InMemoryDeviceStore()
        #expect(try await store.loadCredentials() == nil)
        let first = try await store.loadOrCreateCredentials()
        let second = try await store.loadOrCreateCredentials()
        #expect(first == second)
        #expect(try await store.loadCredentials() == first)
    }

    @Test func storeKeepsThePairingAndForgetsAll() async throws {
        let store = InMemoryDeviceStore()
        _ = try await store.loadOrCreateCredentials()
        let device = PairedDevice(
            jid: .user("5511987654321", device: 14), lid: .lid("203123456789012", device: 14),
            businessName: "", platform: "android", account: Data([1, 2, 3]), primaryIdentityKey: Data(repeating: 9, count: 32)
        )
        try await store.savePairedDevice(device)
        #expect(try await store.loadPairedDevice() == device)
        let json = try JSONEncoder().encode(device)
        #expect(try JSONDecoder().decode(PairedDevice.self, from: json) == device)
        #expect(String(decoding: json, as: UTF8.self).contains("5511987654321:14@s.whatsapp.net"))
        try await store.removeAll()
        #expect(try await store.loadPairedDevice() == nil)
        #expect(try await store.loadCredentials() == nil)
    }

    @Test func codableRoundTrip() throws {
        let credentials = DeviceCredentials.generate()
        let json = try JSONEncoder().encode(credentials)
        #expect(try JSONDecoder().decode(DeviceCredentials.self, from: json) == credentials)
    }

    @Test func buildHashIsMD5OfTheVersionString() {
        // md5("2.3000.1045649367")
        #expect(WhatsAppWebVersion.whatsmeowReference.buildHash == Data(Insecure.MD5.hash(data: Data("2.3000.1045649367".utf8))))
        #expect(WhatsAppWebVersion.whatsmeowReference.buildHash.count == 16)
    }
}

/// ClientPayload bytes against the same payload built by neonize's protobuf modules
/// (`Tests/peers/wa_client_payload.py`, following whatsmeow store/clientpayload.go).
@Suite struct ClientPayloadTests {
    let companion = CompanionDescription(osName: "BuzzBridge", osVersion: (1, 2, 3), platform: .desktop)

    @Test func registrationPayloadMatchesReference() async throws {
        var credentials = DeviceCredentials.generate()
        credentials.registrationID = 0xDEAD_BEEF
        credentials.signedPreKey.id = 0x01_02_03
        let payload = try ClientPayloads.registration(credentials: credentials, companion: companion).serializedData()
        let request: [String: Any] = [
            "mode": "registration",
            "version": [2, 3000, 1_045_649_367],
            "osName": "BuzzBridge", "osVersion": [1, 2, 3], "platform": 7,
            "registrationID": 0xDEAD_BEEF,
            "identityKey": credentials.identityKey.publicKey.rawRepresentation.hex,
            "signedPreKeyID": 0x01_02_03,
            "signedPreKey": credentials.signedPreKey.publicKey.hex,
            "signedPreKeySignature": credentials.signedPreKey.signature.hex,
        ]
        #expect(payload.hex == (try await Self.reference(request)))
    }

    @Test func loginPayloadMatchesReference() async throws {
        let payload = try ClientPayloads.login(device: .user("5511987654321", device: 17), companion: companion).serializedData()
        let request: [String: Any] = [
            "mode": "login", "version": [2, 3000, 1_045_649_367],
            "user": "5511987654321", "device": 17,
        ]
        #expect(payload.hex == (try await Self.reference(request)))
    }

    @Test func nextPayloadFollowsPairing() throws {
        let credentials = DeviceCredentials.generate()
        let before = try ClientPayloads.next(credentials: credentials, pairedDevice: nil, companion: companion)
        #expect(before.hasDevicePairingData && !before.passive && !before.hasUsername)
        let paired = PairedDevice(
            jid: .user("5511987654321", device: 3), lid: nil, businessName: "", platform: "",
            account: Data(), primaryIdentityKey: Data()
        )
        let after = try ClientPayloads.next(credentials: credentials, pairedDevice: paired, companion: companion)
        #expect(!after.hasDevicePairingData && after.passive && after.username == 5_511_987_654_321 && after.device == 3)
    }

    @Test(arguments: ["", "abc", "12a4", "+15551234", "1.5"])
    func loginRefusesANonNumericUser(user: String) {
        #expect(throws: ClientPayloads.Failure.nonNumericUser(user)) {
            try ClientPayloads.login(device: JID(user: user, device: 2, server: JID.Server.user), companion: companion)
        }
    }

    static func reference(_ request: [String: Any]) async throws -> String {
        let output = try await PythonPeer.check("wa_client_payload.py", input: try JSONSerialization.data(withJSONObject: request))
        let json = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        return try #require(json["payload"] as? String)
    }
}
