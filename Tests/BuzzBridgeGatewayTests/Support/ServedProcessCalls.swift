import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// What a `buzzbridge serve` child process answered: the status, the JSON body (empty when it was
/// none) and the headers.
struct ServedAnswer {
    let status: Int
    let json: [String: Any]
    let headers: HTTPHeaders
    var data: [String: Any] { json["data"] as? [String: Any] ?? [:] }
}

/// The requests and the first-start announcements the tests of served processes share.
enum ServedProcess {
    /// One request with a bearer token and, when given, a JSON body.
    static func call(
        _ method: HTTPMethod, _ url: String, bearer: String, body: String? = nil, headers: [String: String] = [:]
    ) async throws -> ServedAnswer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(bearer)")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await TestGateway.client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(bytes.readableBytesView)) as? [String: Any]) ?? [:]
        return ServedAnswer(status: Int(response.status.code), json: json, headers: response.headers)
    }

    /// The value a first start prints after `label` ("API key (shown once", "Admin token …").
    static func announced(_ label: String, in output: String) throws -> String {
        guard let line = output.split(separator: "\n").first(where: { $0.contains(label) }), let value = line.split(separator: " ").last else {
            throw TestFailure("no \(label) in: \(output)")
        }
        return String(value)
    }
}
