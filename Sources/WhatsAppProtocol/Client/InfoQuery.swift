import Foundation

/// A request to the server (`<iq>`), answered by an `iq` of type `result` or `error` with the
/// same id (whatsmeow request.go).
public struct InfoQuery: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case get
        case set
    }

    /// How long whatsmeow waits for an answer (request.go: defaultRequestTimeout).
    public static let defaultTimeout: Duration = .seconds(75)

    public var namespace: String
    public var kind: Kind
    public var to: JID
    public var target: JID?
    public var content: [BinaryNode]
    /// Overrides the client's request timeout.
    public var timeout: Duration?
    /// Whether a request cut off by a lost connection is sent once more after the client logs
    /// in again (within 5 s; never after a logout or a replacement; whatsmeow request.go:
    /// retryFrame).
    public var retriesAfterReconnect: Bool

    public init(
        namespace: String,
        kind: Kind,
        to: JID = .server,
        target: JID? = nil,
        content: [BinaryNode] = [],
        timeout: Duration? = nil,
        retriesAfterReconnect: Bool = true
    ) {
        self.namespace = namespace
        self.kind = kind
        self.to = to
        self.target = target
        self.content = content
        self.timeout = timeout
        self.retriesAfterReconnect = retriesAfterReconnect
    }

    /// How long a cut-off request waits for the client to be logged in again before its retry.
    public static let retryWait: Duration = .seconds(5)

    /// The stanza sent for this query with request id `id`.
    public func node(id: String) -> BinaryNode {
        var attributes: BinaryNode.Attributes = ["id": .string(id), "xmlns": .string(namespace), "type": .string(kind.rawValue), "to": .jid(to)]
        if let target { attributes["target"] = .jid(target) }
        return BinaryNode(tag: "iq", attributes: attributes, content: content.isEmpty ? nil : .nodes(content))
    }

    /// The outcome an answer stands for: the answer itself for `type="result"`, the parsed
    /// `<error code text>` for `type="error"`.
    public static func outcome(of answer: BinaryNode) -> Result<BinaryNode, InfoQueryError> {
        guard answer.tag == "iq" else {
            if answer.tag == "stream:error" || answer.tag == "xmlstreamend" { return .failure(.disconnected) }
            return .failure(.unexpectedAnswer(answer.tag))
        }
        switch answer.attributes.string("type") {
        case "result":
            return .success(answer)
        case "error":
            let error = answer.child("error")
            let code = error?.attributes.string("code").flatMap { Int($0) } ?? 0
            return .failure(.server(code: code, text: error?.attributes.string("text") ?? ""))
        default:
            return .failure(.unexpectedAnswer(answer.attributes.string("type") ?? ""))
        }
    }
}

/// Why an IQ has no result.
public enum InfoQueryError: Error, Equatable, Sendable {
    /// The server answered `<error code=… text=…>` (whatsmeow errors.go: parseIQError).
    case server(code: Int, text: String)
    case timedOut
    /// The connection ended before the answer came.
    case disconnected
    /// There is no open connection to send on.
    case notConnected
    case unexpectedAnswer(String)
}

/// Request ids: a prefix of two random bytes fixed when the client is made, then a counter
/// from 1 (whatsmeow client.go: NewClient `uniqueID`, request.go: generateRequestID), so ids
/// never repeat within a client and rarely across clients.
public struct RequestIDGenerator: Sendable {
    public let prefix: String
    private var counter: UInt64 = 0

    public init(randomBytes: (UInt8, UInt8)) {
        prefix = "\(randomBytes.0).\(randomBytes.1)-"
    }

    public init() {
        var generator = SystemRandomNumberGenerator()
        self.init(randomBytes: (UInt8.random(in: .min ... .max, using: &generator), UInt8.random(in: .min ... .max, using: &generator)))
    }

    public mutating func next() -> String {
        counter += 1
        return prefix + String(counter)
    }
}

/// The requests waiting for their answer, by id. An answer resumes exactly one waiter; a cut
/// connection fails them all. Not thread-safe by itself: the client actor owns it.
struct InfoQueryWaiters {
    private var waiting: [String: CheckedContinuation<BinaryNode, any Error>] = [:]

    var count: Int { waiting.count }

    mutating func add(_ id: String, _ continuation: CheckedContinuation<BinaryNode, any Error>) {
        waiting[id] = continuation
    }

    /// Resumes the waiter of `answer`'s id; false when it is no answer to a pending request
    /// (only `iq` and `ack` stanzas are, as whatsmeow request.go: receiveResponse).
    mutating func resolve(_ answer: BinaryNode) -> Bool {
        guard answer.tag == "iq" || answer.tag == "ack", let id = answer.attributes.string("id"),
            let waiter = waiting.removeValue(forKey: id)
        else { return false }
        waiter.resume(returning: answer)
        return true
    }

    mutating func fail(_ id: String, with error: InfoQueryError) {
        waiting.removeValue(forKey: id)?.resume(throwing: error)
    }

    mutating func failAll(with error: InfoQueryError) {
        let all = waiting
        waiting = [:]
        for waiter in all.values { waiter.resume(throwing: error) }
    }
}
