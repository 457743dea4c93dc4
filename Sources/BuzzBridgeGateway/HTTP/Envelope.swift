import Foundation
import Hummingbird

/// `{"success":true,"data":…,"message":…}` as every successful response in the spec.
struct Success<Payload: Encodable & Sendable>: ResponseGenerator, Sendable {
    var data: Payload
    var message: String?
    var status: HTTPResponse.Status = .ok

    init(_ data: Payload, message: String? = nil, status: HTTPResponse.Status = .ok) {
        self.data = data
        self.message = message
        self.status = status
    }

    private struct Body: Encodable {
        let success = true
        let data: Payload
        let message: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(success, forKey: .success)
            try container.encode(data, forKey: .data)
            try container.encodeIfPresent(message, forKey: .message)
        }

        enum CodingKeys: String, CodingKey { case success, data, message }
    }

    /// The envelope's JSON, as ``response(from:context:)`` sends it.
    func jsonBytes() -> [UInt8] {
        guard let writable = data as? any JSONWritable else {
            return (try? JSONResponse.encoder.encode(Body(data: data, message: message))).map(Array.init) ?? []
        }
        var json = JSONWriter(capacity: 16 * 1024)
        json.object { envelope in
            envelope.key("data")
            writable.write(to: &envelope)
            if let message {
                envelope.key("message")
                envelope.value(message)
            }
            envelope.key("success")
            envelope.value(true)
        }
        return json.bytes
    }

    /// The answer as a response.
    func response() -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: jsonBytes()))
        )
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        guard data is any JSONWritable else { return try JSONResponse.make(Body(data: data, message: message), status: status) }
        return response()
    }
}

enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func make(_ value: some Encodable, status: HTTPResponse.Status, headers: HTTPFields = [:]) throws -> Response {
        let body = try encoder.encode(value)
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension APIError {
    private struct Body: Encodable {
        struct Detail: Encodable {
            let code: String
            let message: String
            let details: [String: String]?
        }
        let success = false
        let error: Detail
    }

    /// The envelope's JSON. Encoding a struct of strings cannot fail; the fallback keeps the envelope even so.
    var envelopeJSON: Data {
        let body = Body(error: .init(code: code.rawValue, message: message, details: details))
        return (try? JSONResponse.encoder.encode(body))
            ?? Data(#"{"error":{"code":"INTERNAL_ERROR","message":"Internal server error"},"success":false}"#.utf8)
    }

    /// The headers the answer carries: its own, and for a 401 the scheme that would be accepted (RFC 9110).
    var responseHeaders: HTTPFields {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        if code.status == .unauthorized, headers[.wwwAuthenticate] == nil { headers[.wwwAuthenticate] = #"Bearer realm="BuzzBridge""# }
        return headers
    }

    func response() -> Response {
        Response(status: code.status, headers: responseHeaders, body: ResponseBody(byteBuffer: ByteBuffer(bytes: envelopeJSON)))
    }
}
