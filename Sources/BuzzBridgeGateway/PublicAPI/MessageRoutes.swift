import BuzzBridgeCore
import BuzzBridgeEngines
import BuzzBridgeStorage
import Foundation
import Hummingbird

/// Messages and conversations.
struct MessageRoutes {
    let services: GatewayServices
    static let maximumMessageLength = 4096

    func register(on api: RouterGroup<GatewayRequestContext>) {
        api.get("messages", use: list)
        api.post("messages/send", use: send)
        api.post("messages/:message_id/read", use: markRead)
        api.get("conversations/:phone", use: conversation)
    }

    struct Pagination: JSONObject {
        let total: Int
        let limit: Int
        let offset: Int
        let hasMore: Bool

        func members(_ object: inout some JSONMembers) {
            object.member("has_more", hasMore)
            object.member("limit", limit)
            object.member("offset", offset)
            object.member("total", total)
        }
    }

    struct MessageList: JSONObject {
        let messages: [MessageRepresentation]
        let pagination: Pagination

        func members(_ object: inout some JSONMembers) {
            object.member("messages", messages)
            object.member("pagination", pagination)
        }
    }

    @Sendable func list(request: Request, context: GatewayRequestContext) async throws -> Success<MessageList> {
        let caller = try context.requireCaller()
        let input = QueryInput(request: request)
        let query = MessageQuery(
            sessionID: caller.sessionID,
            limit: try input.integer("limit", default: 50, in: 1...100),
            offset: try input.integer("offset", default: 0, in: 0...Int(Int32.max)),
            status: try input.choice("status", default: ReadFilter.all),
            contact: try input.phone("phone"),
            from: try input.timestamp("from_date"),
            to: try input.timestamp("to_date")
        )
        if let from = query.from, let to = query.to, from > to {
            throw APIError.invalid("to_date", "must not be earlier than from_date")
        }
        let page = try await services.metrics.store.measure(.messages) { try await services.store.messages(query) }
        return Success(
            MessageList(
                messages: page.messages.map(MessageRepresentation.init),
                pagination: Pagination(
                    total: page.total, limit: query.limit, offset: query.offset,
                    hasMore: query.offset + page.messages.count < page.total
                )
            ))
    }

    struct SentMessage: JSONObject {
        let messageID: String
        let phone: String
        let message: String
        let status: String
        let timestamp: Timestamp

        func members(_ object: inout some JSONMembers) {
            object.member("message", message)
            object.member("message_id", messageID)
            object.member("phone", phone)
            object.member("status", status)
            object.member("timestamp", timestamp)
        }
    }

    @Sendable func send(request: Request, context: GatewayRequestContext) async throws -> Response {
        let caller = try context.requireCaller()
        let idempotencyKey = request.headers[.idempotencyKey]
        if let idempotencyKey, !IdempotentSends.isValid(idempotencyKey) {
            throw APIError.invalid("Idempotency-Key", "must be 1 to 255 visible ASCII characters")
        }
        let input = try await SendMessageInput.read(request, context: context, services: services, textFields: ["phone", "message", "reply_to"])
        let sendRequest = Messaging.SendRequest(phone: input.phone, text: input.text, replyTo: input.replyTo, media: input.media)
        let messaging = Messaging(services: services)
        guard let idempotencyKey else {
            return Self.success(for: try await messaging.send(sendRequest, from: caller.sessionID, logger: context.logger)).response()
        }
        let fingerprint = IdempotentSends.fingerprint(of: sendRequest)
        let (answer, replayed) = try await services.idempotentSends.answer(
            key: idempotencyKey, session: caller.sessionID, fingerprint: fingerprint,
            perform: {
                let tag = IdempotencyTag(key: idempotencyKey, fingerprint: fingerprint)
                return Self.answer(for: try await messaging.send(sendRequest, from: caller.sessionID, idempotency: tag, logger: context.logger))
            },
            render: { Self.answer(for: $0) },
            envelope: { error in
                Self.answer(
                    for: (error as? APIError) ?? (error as? EngineError).map(APIError.init) ?? APIError(.internalError, "Internal server error"))
            }
        )
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if replayed { headers[.idempotentReplayed] = "true" }
        return Response(status: .init(code: answer.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    /// The success answer for a sent message, as bytes that can be stored and replayed.
    static func answer(for message: Message) -> IdempotentSends.Answer {
        IdempotentSends.Answer(status: 200, body: success(for: message).jsonBytes())
    }

    static func success(for message: Message) -> Success<SentMessage> {
        Success(
            SentMessage(
                messageID: message.id.rawValue, phone: message.to.e164, message: message.body, status: message.status.rawValue,
                timestamp: message.timestamp
            ),
            // Queued for the node serving the session (several nodes): sent when it takes it.
            message: message.status == .pending ? "Message queued for sending" : "Message sent successfully"
        )
    }

    static func answer(for error: APIError) -> IdempotentSends.Answer {
        IdempotentSends.Answer(status: Int(error.code.status.code), body: Array(error.envelopeJSON))
    }

    struct ReadReceipt: Encodable, Sendable {
        let messageID: String
        let status: String
        let readAt: String
        enum CodingKeys: String, CodingKey { case messageID = "message_id", status, readAt = "read_at" }
    }

    @Sendable func markRead(request: Request, context: GatewayRequestContext) async throws -> Success<ReadReceipt> {
        let caller = try context.requireCaller()
        let id = MessageID(rawValue: try context.parameters.require("message_id"))
        let readAt = try await Messaging(services: services).markRead(id, in: caller.sessionID, logger: context.logger)
        return Success(
            ReadReceipt(messageID: id.rawValue, status: MessageStatus.read.rawValue, readAt: readAt.iso8601),
            message: "Message marked as read"
        )
    }

    struct Conversation: JSONObject {
        let phone: String
        let contactName: String?
        let messages: [MessageRepresentation]
        let totalMessages: Int
        let hasMore: Bool

        func members(_ object: inout some JSONMembers) {
            object.member("contact_name", contactName)
            object.member("has_more", hasMore)
            object.member("messages", messages)
            object.member("phone", phone)
            object.member("total_messages", totalMessages)
        }
    }

    @Sendable func conversation(request: Request, context: GatewayRequestContext) async throws -> Success<Conversation> {
        let caller = try context.requireCaller()
        let rawPhone = try context.parameters.require("phone")
        let phone = try PhoneInput.parse(rawPhone.removingPercentEncoding ?? rawPhone, field: "phone")
        let input = QueryInput(request: request)
        let query = ConversationQuery(
            sessionID: caller.sessionID, contact: phone,
            limit: try input.integer("limit", default: 50, in: 1...200),
            before: input.raw("before").map(MessageID.init(rawValue:))
        )
        let page: ConversationPage
        do {
            page = try await services.metrics.store.measure(.conversation) { try await services.store.conversation(query) }
        } catch StoreError.unknownCursor {
            throw APIError.invalid("before", "must name a message of this conversation")
        }
        return Success(
            Conversation(
                phone: phone.e164, contactName: page.contactName, messages: page.messages.map(MessageRepresentation.init),
                totalMessages: page.totalMessages, hasMore: page.hasMore
            ))
    }
}
