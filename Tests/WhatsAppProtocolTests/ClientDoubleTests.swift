import Crypto
import Foundation
import SignalProtocol
import TestSupport
import Testing

@testable import WhatsAppProtocol

/// The client against the WhatsApp server double: a real TLS WebSocket through its HTTP CONNECT
/// proxy, the Noise handshake under its test root, binary nodes, and a phone that scans the QR
/// code or types the pairing code. The client's stanzas are compared with real whatsmeow's
/// (neonize) recorded by the double's own tests.
@Suite(.serialized) struct ClientDoubleTests {
    static let phone = "60123456789"

    /// Fast keepalive timings, so ping loss shows within seconds.
    static let quickKeepAlive = KeepAlive.Timing(
        minimumInterval: .milliseconds(300), maximumInterval: .milliseconds(500),
        responseDeadline: .milliseconds(500), maximumFailTime: .milliseconds(1500)
    )

    struct Paired {
        let client: WhatsAppClient
        let log: EventLog
        let store: InMemoryClientStateStore
        let jid: JID
    }

    static func isQR(_ event: ClientEvent) -> Bool { if case .qrCode = event { true } else { false } }
    static func isLoggedIn(_ event: ClientEvent) -> Bool { if case .loggedIn = event { true } else { false } }
    static func isPaired(_ event: ClientEvent) -> Bool { if case .paired = event { true } else { false } }

    /// Starts a client with an empty store, has the phone scan its first QR code, and waits
    /// until it logged in again after the server's 515.
    static func pairByQR(_ double: ServerDouble, keepAlive: KeepAlive.Timing = .whatsmeow) async throws -> Paired {
        let store = InMemoryClientStateStore()
        let client = WhatsAppClient(store: store, options: double.options(keepAlive: keepAlive))
        let log = EventLog(client)
        try await client.start()
        guard case .qrCode(let offer) = try await log.next("a QR code", isQR) else { throw ServerDouble.Failure(description: "no QR") }
        let scanned = try await double.ok("POST", "/phone/scan", ["qr": offer.code, "phone": phone])
        try await log.next("paired", isPaired)
        try await log.next("login after pairing", isLoggedIn)
        return Paired(client: client, log: log, store: store, jid: try JID(parsing: scanned["jid"] as? String ?? ""))
    }

    /// Waits until the device's newest connection finished its post-login exchange (active
    /// and present), so that a fault hits what the test means it to hit.
    static func settled(_ double: ServerDouble, _ jid: JID) async throws {
        try await double.eventually("\(jid) logged in, active and present") {
            let newest = try await double.clients().filter { $0["jid"] as? String == jid.description }.max {
                ($0["conn"] as? Int ?? 0) < ($1["conn"] as? Int ?? 0)
            }
            return newest?["state"] as? String == "logged-in" && newest?["active"] as? Bool == true && newest?["presence"] as? String == "available"
        }
    }

    /// The connection numbers the double gave this device's connections, oldest first.
    static func connections(_ double: ServerDouble, payload: String, jid: JID? = nil) async throws -> [Int] {
        try await double.clients().filter { client in
            client["payload"] as? String == payload && (jid == nil || client["jid"] as? String == jid?.description)
        }.compactMap { $0["conn"] as? Int }.sorted()
    }

    static func expectMatch(_ double: ServerDouble, conn: Int, recording: String, role: String, mode: String = "in-order") async throws {
        let problems = try await double.compare(conn: conn, recording: recording, role: role, mode: mode)
        #expect(problems.isEmpty, "\(recording)/\(role): \(problems.joined(separator: "\n"))")
    }

    @Test func qrPairingLoginPrekeysPresenceThenReloginAndLogout() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let store = InMemoryClientStateStore()
        let client = WhatsAppClient(store: store, options: double.options())
        let log = EventLog(client)
        try await client.start()

        // The first of six refs is shown for 60 s, with the device's keys in the string.
        guard case .qrCode(let offer) = try await log.next("a QR code", Self.isQR) else { return }
        #expect(offer.index == 0 && offer.remaining == 5 && offer.validFor == .seconds(60))
        let credentials = try #require(try await store.loadCredentials())
        #expect(offer.code.hasPrefix(PairingQRCode.prefix))
        #expect(offer.code.contains(credentials.noiseKey.publicKey.rawRepresentation.base64EncodedString()))

        let scanned = try await double.ok("POST", "/phone/scan", ["qr": offer.code, "phone": Self.phone])
        let jid = try JID(parsing: try #require(scanned["jid"] as? String))
        let lid = try JID(parsing: try #require(scanned["lid"] as? String))
        guard case .paired(let account) = try await log.next("paired", Self.isPaired) else { return }
        #expect(account.jid == jid && account.lid == lid && account.platform == "android")
        try await log.next("the 515 restart") { $0 == .reconnecting(.restartRequired, delay: .zero) }
        guard case .loggedIn(let loggedIn) = try await log.next("login", Self.isLoggedIn) else { return }
        #expect(loggedIn.jid == jid && loggedIn.lid == lid)

        // What pairing stored: the device, the primary's identity under LID user device 0, the LID map.
        let device = try #require(try await store.loadPairedDevice())
        #expect(device.jid == jid && device.lid == lid)
        let primary = try await store.identity(for: ProtocolAddress(name: "\(lid.user)_1", deviceId: 0))
        #expect(primary?.rawRepresentation == device.primaryIdentityKey)
        #expect(try await store.lid(forPhone: jid) == lid.withoutDevice)

        // After success: 812 prekeys uploaded and marked, passive/active, presence with the push name.
        try await double.eventually("812 prekeys on the server") {
            try await double.devices().first { $0["jid"] as? String == jid.description }?["prekeyCount"] as? Int == 812
        }
        let ids = try await double.devices().first { $0["jid"] as? String == jid.description }?["prekeyIds"] as? [Int]
        #expect(ids == Array(1...812))
        try await double.eventually("marked uploaded") { try await store.uploadedPreKeyCount() == 812 }
        #expect(try await store.nextPreKeyID() == 813)
        try await double.eventually("presence and active") {
            try await double.clients().contains {
                $0["jid"] as? String == jid.description && $0["presence"] as? String == "available"
                    && $0["pushName"] as? String == "BuzzBridge Test" && $0["active"] as? Bool == true
            }
        }

        // The stanzas match whatsmeow's, in order, on both connections.
        let pairing = try #require(try await Self.connections(double, payload: "registration").first)
        let firstLogin = try #require(try await Self.connections(double, payload: "login", jid: jid).first)
        try await Self.expectMatch(double, conn: pairing, recording: "qr_pairing", role: "pairing")
        try await Self.expectMatch(double, conn: firstLogin, recording: "qr_pairing", role: "first-login")

        // A restart with the stored state logs in again without any QR code.
        await client.stop()
        try await log.next("stopped") { $0 == .stopped }
        let again = WhatsAppClient(store: store, options: double.options())
        let againLog = EventLog(again)
        try await again.start()
        try await againLog.next("login with the stored keys", Self.isLoggedIn)
        #expect(!(await againLog.all()).contains(where: Self.isQR))
        try await double.eventually("presence on the new connection") {
            try await double.clients().contains {
                $0["jid"] as? String == jid.description && $0["state"] as? String == "logged-in" && $0["presence"] as? String == "available"
            }
        }
        // No new prekeys: the server still has plenty.
        #expect(try await double.devices().first { $0["jid"] as? String == jid.description }?["prekeyCount"] as? Int == 812)

        // Logout tells the server first, then wipes.
        try await again.logout()
        try await againLog.next("logged out") { $0 == .loggedOut(.userInitiated) }
        #expect(try await store.loadCredentials() == nil)
        #expect(try await store.loadPairedDevice() == nil)
        #expect(try await store.uploadedPreKeyCount() == 0)
        let logouts = try await double.ok("GET", "/state")["logouts"] as? [[String: Any]] ?? []
        #expect(logouts.contains { $0["jid"] as? String == jid.description && $0["reason"] as? String == "user_initiated" })
        let relogin = try #require(try await Self.connections(double, payload: "login", jid: jid).last)
        try await Self.expectMatch(double, conn: relogin, recording: "relogin_presence_logout", role: "relogin")
    }

    @Test func pairingByPhoneNumberCode() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let store = InMemoryClientStateStore()
        let client = WhatsAppClient(store: store, options: double.options())
        let log = EventLog(client)
        try await client.start()
        try await log.next("the pairing connection", Self.isQR)
        let advBefore = try #require(try await store.loadCredentials()).advSecret
        let code = try await client.requestPairingCode(phone: "+\(Self.phone)")
        #expect(code.count == 9 && code.dropFirst(4).first == "-")
        try await log.next("the code event") { $0 == .pairingCode(code) }
        let linked = try await double.ok("POST", "/phone/enter-code", ["code": code, "phone": Self.phone])
        guard case .paired(let account) = try await log.next("paired", Self.isPaired) else { return }
        #expect(account.jid.description == linked["jid"] as? String)
        try await log.next("login", Self.isLoggedIn)
        try await double.eventually("812 prekeys on the server") {
            try await double.devices().first { $0["jid"] as? String == account.jid.description }?["prekeyCount"] as? Int == 812
        }
        try await double.eventually("presence") {
            try await double.clients().contains { $0["jid"] as? String == account.jid.description && $0["presence"] as? String == "available" }
        }
        // The primary_hello notification was acknowledged as whatsmeow does.
        let pairingConn = try #require(try await Self.connections(double, payload: "registration").first)
        let acks = try await double.transcript(conn: pairingConn).filter { $0["dir"] as? String == "in" && $0["tag"] as? String == "ack" }
        #expect(
            acks.contains { entry in
                let attributes = entry["attrs"] as? [String: Any] ?? [:]
                return attributes["class"] as? String == "notification" && attributes["type"] as? String == "link_code_companion_reg"
            })
        // The code exchange replaced the ADV secret, stored before companion_finish.
        #expect(try #require(try await store.loadCredentials()).advSecret != advBefore)
        let firstLogin = try #require(try await Self.connections(double, payload: "login", jid: account.jid).first)
        try await Self.expectMatch(double, conn: firstLogin, recording: "code_pairing", role: "first-login")
        await client.stop()
    }

    @Test func aWrongCodeIsRefusedByThePhone() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let client = WhatsAppClient(store: InMemoryClientStateStore(), options: double.options())
        let log = EventLog(client)
        try await client.start()
        try await log.next("the pairing connection", Self.isQR)
        _ = try await client.requestPairingCode(phone: Self.phone)
        let (status, _) = try await double.call("POST", "/phone/enter-code", ["code": "ZZZZ-ZZZZ", "phone": Self.phone])
        #expect(status == 400)
        #expect(!(await log.all()).contains(where: Self.isPaired))
        await client.stop()
    }

    @Test func faultsBecomeTheDocumentedEvents() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await Self.pairByQR(double)
        let log = paired.log

        for (kind, reason) in [
            ("stream_error_515", ReconnectReason.restartRequired),
            ("stream_error_503", .serviceUnavailable(code: 503)),
            ("cut_socket", .connectionLost),
        ] {
            try await Self.settled(double, paired.jid)
            try await double.ok("POST", "/fault", ["jid": paired.jid.description, "kind": kind])
            let event = try await log.next("reconnecting after \(kind)") { if case .reconnecting = $0 { true } else { false } }
            guard case .reconnecting(let got, _) = event else { return }
            #expect(got == reason, "\(kind)")
            try await log.next("login after \(kind)", Self.isLoggedIn)
        }

        // The socket cut while an IQ waits: the client comes back and sends the IQ once more,
        // which the new connection answers; without the retry the request fails.
        try await Self.settled(double, paired.jid)
        try await double.ok("POST", "/fault", ["jid": paired.jid.description, "kind": "cut_during_next_iq"])
        let count = try await paired.client.sendIQ(PreKeys.countQuery)
        #expect(try PreKeys.serverCount(in: count) == 812)
        try await log.next("reconnect after the cut") { if case .reconnecting(.connectionLost, _) = $0 { true } else { false } }
        try await log.next("login after the cut", Self.isLoggedIn)
        try await Self.settled(double, paired.jid)
        try await double.ok("POST", "/fault", ["jid": paired.jid.description, "kind": "cut_during_next_iq"])
        var once = PreKeys.countQuery
        once.retriesAfterReconnect = false
        await #expect(throws: InfoQueryError.disconnected) { _ = try await paired.client.sendIQ(once) }
        try await log.next("login after the second cut", Self.isLoggedIn)
        try await Self.settled(double, paired.jid)

        // 405 at the next login: the version is named, nothing reconnects, the state stays.
        try await double.ok("POST", "/fault", ["jid": paired.jid.description, "kind": "failure_405"])
        try await double.ok("POST", "/fault", ["jid": paired.jid.description, "kind": "stream_error_515"])
        try await log.next("outdated") { $0 == .outdatedVersion(.whatsmeowReference) }
        try await log.next("stopped") { $0 == .stopped }
        #expect(try await paired.store.loadPairedDevice() != nil)

        // Start again: replaced by another connection → no reconnect, state kept.
        try await paired.client.start()
        try await log.next("login after restart", Self.isLoggedIn)
        try await Self.settled(double, paired.jid)
        try await double.ok("POST", "/fault", ["jid": paired.jid.description, "kind": "replaced"])
        try await log.next("replaced") { $0 == .replaced }
        try await log.next("stopped") { $0 == .stopped }
        #expect(try await paired.store.loadPairedDevice() != nil)

        // Start again: the phone removes the device → logged out, everything wiped.
        try await paired.client.start()
        try await log.next("login after restart", Self.isLoggedIn)
        try await Self.settled(double, paired.jid)
        try await double.ok("POST", "/phone/remove-device", ["jid": paired.jid.description])
        try await log.next("logged out") { $0 == .loggedOut(.deviceRemoved) }
        #expect(try await paired.store.loadPairedDevice() == nil)
        #expect(try await paired.store.loadCredentials() == nil)
    }

    /// Many callers at once: every request is answered, so every frame reached the server in
    /// Noise counter order (one out of order would break the stream and fail them all).
    @Test func concurrentRequestsAreAllAnswered() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await Self.pairByQR(double)
        let client = paired.client
        let answered = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<120 {
                group.addTask {
                    if index % 3 == 0 {
                        try await client.sendNode(BinaryNode(tag: "presence", attributes: ["type": "available", "name": "BuzzBridge Test"]))
                        return true
                    }
                    return try await client.sendIQ(KeepAlive.ping).attributes.string("type") == "result"
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(answered == 120)
        #expect(await client.connectionState == .loggedIn)
        await client.stop()
    }

    @Test func deviceRemovedFaultWipes() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await Self.pairByQR(double)
        try await Self.settled(double, paired.jid)
        try await double.ok("POST", "/fault", ["jid": paired.jid.description, "kind": "device_removed"])
        try await paired.log.next("logged out") { $0 == .loggedOut(.deviceRemoved) }
        #expect(try await paired.store.loadPairedDevice() == nil)
        #expect(try await paired.store.uploadedPreKeyCount() == 0)
    }

    @Test func unansweredPingsForceAReconnect() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let paired = try await Self.pairByQR(double, keepAlive: Self.quickKeepAlive)
        let conn = try #require(try await Self.connections(double, payload: "login", jid: paired.jid).last)
        // Pings go out as whatsmeow's: <iq xmlns="w:p" type="get" to="s.whatsapp.net"/>, answered.
        try await double.eventually("a ping") {
            try await double.transcript(conn: conn).contains { entry in
                entry["dir"] as? String == "in" && (entry["attrs"] as? [String: Any])?["xmlns"] as? String == "w:p"
            }
        }
        try await double.ok("POST", "/fault", ["jid": paired.jid.description, "kind": "stop_answering_pings"])
        try await paired.log.next("a ping timeout") { $0 == .keepAliveTimeout(count: 1) }
        try await paired.log.next("the forced reconnect") { if case .reconnecting(.keepAliveTimedOut, _) = $0 { true } else { false } }
        try await paired.log.next("login again", Self.isLoggedIn)
        await paired.client.stop()
    }

    @Test func aChainNotSignedByTheRootIsRefusedAndNothingIsPaired() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        var options = double.options()
        options.noiseRootKeyOverride = Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation
        let store = InMemoryClientStateStore()
        let client = WhatsAppClient(store: store, options: options)
        let log = EventLog(client)
        try await client.start()
        let event = try await log.next("the refusal") { if case .disconnected = $0 { true } else { false } }
        guard case .disconnected(.connectFailed(let description)) = event else {
            Issue.record("unexpected \(event)")
            return
        }
        #expect(description.contains("badIntermediateSignature"))
        try await log.next("stopped") { $0 == .stopped }
        #expect(!(await log.all()).contains(where: Self.isQR))
        #expect(try await store.loadPairedDevice() == nil)
        #expect(try await double.clients().allSatisfy { $0["state"] as? String != "unpaired" })
    }

    /// The phone scans a QR code whose ADV secret is not the client's: its pair-success then
    /// carries an HMAC the client cannot verify, and the client refuses it.
    @Test func aTamperedPairSuccessIsRefusedAndNothingIsStored() async throws {
        let double = try await ServerDouble()
        defer { Task { await double.stop() } }
        let store = InMemoryClientStateStore()
        let client = WhatsAppClient(store: store, options: double.options())
        let log = EventLog(client)
        try await client.start()
        guard case .qrCode(let offer) = try await log.next("a QR code", Self.isQR) else { return }
        var fields = offer.code.dropFirst(PairingQRCode.prefix.count).split(separator: ",").map(String.init)
        fields[3] = Data(repeating: 7, count: 32).base64EncodedString()
        let tampered = PairingQRCode.prefix + fields.joined(separator: ",")
        let (status, answer) = try await double.call("POST", "/phone/scan", ["qr": tampered, "phone": Self.phone])
        #expect(status == 422)
        #expect((answer["error"] as? String)?.contains("hmac-mismatch") == true)
        try await log.next("the refusal") { $0 == .pairingRefused(.hmacMismatch) }
        #expect(try await store.loadPairedDevice() == nil)
        #expect(try await store.identity(for: ProtocolAddress(name: "x", deviceId: 0)) == nil)
        #expect(try await double.devices().isEmpty)
        await client.stop()
    }
}
