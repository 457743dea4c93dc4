import AsyncHTTPClient
import BuzzBridgeCore
import BuzzBridgeGateway
import BuzzBridgePostgres
import BuzzBridgeStorage
import Foundation
import NIOCore
import NIOHTTP1
import TestSupport
import Testing

/// `buzzbridge migrate-data`: a data folder filled by the real server on SQLite is copied into
/// PostgreSQL, and the server started on PostgreSQL shows the same data through its API.
@Suite("Copying a SQLite deployment into PostgreSQL")
struct MigrateDataTests {
    /// Sends `file` as an image with multipart/form-data; the message's id.
    private func sendImage(_ url: String, key: String, file: [UInt8]) async throws -> String {
        let boundary = "----buzzbridge-copy-\(UUID().uuidString)"
        var body = Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"phone\"\r\n\r\n+60123456789\r\n".utf8)
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\nimage\r\n".utf8)
        body += Array(
            "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n".utf8)
        body += file + Array("\r\n--\(boundary)--\r\n".utf8)
        var request = HTTPClientRequest(url: url + "/api/messages/send")
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        request.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await TestGateway.client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any]) ?? [:]
        guard response.status == .ok, let id = (json["data"] as? [String: Any])?["message_id"] as? String else {
            throw TestFailure("image send: \(response.status) \(json)")
        }
        return id
    }

    private func media(_ url: String, key: String, id: String) async throws -> [UInt8] {
        var request = HTTPClientRequest(url: url + "/api/media/\(id)")
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        let response = try await TestGateway.client.execute(request, timeout: .seconds(30))
        #expect(response.status == .ok)
        return Array(try await response.body.collect(upTo: 1 << 20).readableBytesView)
    }

    private func serve(_ data: String, database: String? = nil) async throws -> (ServerProcess, output: String, url: String) {
        let server = try ServerProcess(
            arguments: ["serve", "--data", data, "--port", "0", "--log-level", "error", "--webhook-retry-delays", "1"]
                + (database.map { ["--database", $0] } ?? []),
            environment: ["BUZZBRIDGE_WEBHOOK_ALLOW_PRIVATE": "1"]
        )
        let url = try await server.baseURL()
        return (server, try await server.waitFor("listening on"), url)
    }

    /// What the API shows of a session: its messages (every field), status, and webhook deliveries.
    private func view(_ url: String, key: String, admin: String, session: String) async throws -> [String: NSObject] {
        let messages = try await ServedProcess.call(.GET, url + "/api/messages?limit=100", bearer: key)
        let status = try await ServedProcess.call(.GET, url + "/api/session/status", bearer: key)
        let deliveries = try await ServedProcess.call(.GET, url + "/admin/api/sessions/\(session)/deliveries", bearer: admin)
        #expect(messages.status == 200 && status.status == 200 && deliveries.status == 200)
        // The status's connection times belong to the process; what the session is does not.
        let session = (status.json["data"] as? [String: Any]) ?? [:]
        return [
            "messages": (messages.json["data"] as? NSObject) ?? NSNull(), "deliveries": (deliveries.json["data"] as? NSObject) ?? NSNull(),
            "session": ["session_id", "status", "phone_number", "name"].reduce(into: [String: String]()) { $0[$1] = session[$1] as? String }
                as NSObject,
        ]
    }

    @Test func aFilledDataFolderMovesToPostgreSQLAndTheAPIShowsTheSameData() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-migrate-data-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: data) }
        let receiver = try await WebhookReceiver.start()

        // Filled through the real server on SQLite: a session, its key, two messages (one with
        // U+0000 in it), a webhook endpoint and its delivered event.
        let (sqlite, output, url) = try await serve(data)
        let key = try ServedProcess.announced("API key (shown once", in: output)
        let admin = try ServedProcess.announced("Admin token (shown once", in: output)
        #expect(try await ServedProcess.call(.GET, url + "/api/qr", bearer: key).status == 200)
        #expect(try await ServedProcess.call(.POST, url + "/api/sandbox/scan", bearer: key).status == 200)
        let session = try #require(
            (try await ServedProcess.call(.GET, url + "/api/session/status", bearer: key).json["data"] as? [String: Any])?["session_id"] as? String)
        let hook = try await ServedProcess.call(
            .POST, url + "/admin/api/sessions/\(session)/webhooks", bearer: admin,
            body: #"{"url":"http://127.0.0.1:\#(receiver.port)/hook","secret":"copy-secret-123","events":["message.received"]}"#)
        #expect(hook.status == 201)
        #expect(
            try await ServedProcess.call(
                .POST, url + "/api/messages/send", bearer: key, body: #"{"phone":"+60123456789","message":"sent\u0000whole"}"#
            ).status
                == 200)
        #expect(
            try await ServedProcess.call(.POST, url + "/api/sandbox/incoming", bearer: key, body: #"{"phone":"+60198765432","message":"to copy"}"#)
                .status == 200)
        let photo = SampleMedia.jpeg()
        let image = try await sendImage(url, key: key, file: photo)
        _ = try await receiver.waitForRequests(1)
        try await Task.sleep(for: .milliseconds(500))
        let before = try await view(url, key: key, admin: admin, session: session)
        let listed = (before["messages"] as? [String: Any])?["messages"] as? [[String: Any]] ?? []
        #expect(listed.count == 3 && Set(listed.compactMap { $0["message"] as? String }).isSuperset(of: ["sent\u{0}whole", "to copy"]), "\(listed)")
        #expect(listed.first { $0["id"] as? String == image }?["media_url"] as? String == "/api/media/\(image)", "\(listed)")
        #expect((before["deliveries"] as? [[String: Any]])?.first?["state"] as? String == "succeeded", "\(before)")
        await sqlite.terminate()

        // Protocol state as a live session keeps it, written to the same file.
        let sessionID = SessionID(rawValue: session)
        let peer = ProtocolAddressKey(user: "60198765432", device: 0)
        let hash = [UInt8](repeating: 7, count: 32)
        let store = try await DataFolder.openStore(at: data)
        try await store.withTransaction(session: sessionID) { tx in
            try tx.setCredentials([1, 2, 3])
            for id in try tx.reservePreKeyIDs(count: 3) { try tx.putPreKey(id: id, record: [UInt8(id)]) }
            try tx.markPreKeysUploaded([1])
            try tx.putIdentity([0xA1], of: peer)
            try tx.putSignalSession([0x51], with: peer)
            try tx.putLIDMapping(lid: "111", phone: peer.user)
            try tx.putBufferedDecryption(hash: hash, plaintext: [0x68, 0x00], serverTimestamp: .now(), insertedAt: .now())
        }
        try await store.close()

        let database = try await PostgresTestServer.shared.newDatabaseURL()
        let copied = try await BuzzBridgeExecutable.run(["migrate-data", "--from", data, "--to", database])
        #expect(copied.status == 0, "\(copied.output)")
        #expect(copied.output.contains("every count matches"), "\(copied.output)")
        let messagesLine = copied.output.split(separator: "\n").first { $0.hasPrefix("messages ") }.map { $0.split(separator: " ").map(String.init) }
        #expect(messagesLine == ["messages", "3", "3"], "\(copied.output)")
        #expect(copied.output.contains("media files stay in"), "\(copied.output)")
        // A second copy into the now filled database is refused and changes nothing.
        let again = try await BuzzBridgeExecutable.run(["migrate-data", "--from", data, "--to", database])
        #expect(again.status != 0)
        #expect(again.output.contains("not empty"), "\(again.output)")
        let replaced = try await BuzzBridgeExecutable.run(["migrate-data", "--from", data, "--to", database, "--replace-existing"])
        #expect(replaced.status == 0, "\(replaced.output)")

        // Served from PostgreSQL: the same key and admin token work, the API shows the same data,
        // and the session is not a first start.
        let (postgres, pgOutput, pgURL) = try await serve(data, database: database)
        #expect(!pgOutput.contains("API key (shown once"), "not a first start: \(pgOutput)")
        let after = try await view(pgURL, key: key, admin: admin, session: session)
        #expect(after == before, "before: \(before)\nafter: \(after)")
        // New rows continue after the copied ones.
        #expect(
            try await ServedProcess.call(.POST, pgURL + "/api/sandbox/incoming", bearer: key, body: #"{"phone":"+60198765432","message":"after"}"#)
                .status == 200)
        let total =
            ((try await ServedProcess.call(.GET, pgURL + "/api/messages", bearer: key).json["data"] as? [String: Any])?["pagination"]
            as? [String: Any])?[
                "total"]
        #expect(total as? Int == 4)
        // The media file is still the data folder's, served for the copied message.
        #expect(try await media(pgURL, key: key, id: image) == photo)
        await postgres.terminate()

        let target = try await PostgresStore.open(url: database)
        let state = try await target.readProtocolState(session: sessionID) { state in
            [
                try state.credentials(), try state.preKey(id: 2)?.record, try state.identity(of: peer), try state.signalSession(with: peer),
                try state.bufferedDecryption(hash: hash)?.plaintext, try state.lid(forPhone: peer.user).map { Array($0.utf8) },
            ]
        }
        #expect(state == [[1, 2, 3], [2], [0xA1], [0x51], [0x68, 0x00], Array("111".utf8)])
        #expect(try await target.readProtocolState(session: sessionID) { try $0.uploadedPreKeyCount() } == 1)
        #expect(try await target.readProtocolState(session: sessionID) { try $0.nextPreKeyID() } == 4)
        try await target.close()
        await receiver.stop()
    }
}
