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
        let page = try await services.store.messages(query)
        return Success(MessageList(
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

    @Sendable func send(request: Request, context: GatewayRequestContext) async throws -> Success<SentMessage> {
        let caller = try context.requireCaller()
        let body = try await JSONObjectInput.read(request, context: context)
        let phone = try PhoneInput.parse(try body.requiredString("phone"), field: "phone")
        let text = try body.requiredString("message")
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw APIError.invalid("message", "must not be empty") }
        guard text.unicodeScalars.count <= Self.maximumMessageLength else {
            throw APIError(.messageTooLong, "Message exceeds \(Self.maximumMessageLength) characters", details: ["message": "has \(text.unicodeScalars.count) characters"])
        }
        let replyTo = try body.string("reply_to").map(MessageID.init(rawValue:))

        let session = try await services.session(for: context)
        guard session.status == .active, let ownNumber = session.phoneNumber else { throw APIError.sessionInactive }
        var quoted: Message?
        if let replyTo {
            quoted = try await services.store.message(replyTo, in: caller.sessionID)
            guard quoted != nil else { throw APIError.invalid("reply_to", "must name a message of this session") }
        }
        let engine = try await services.hub.engine(for: session)
        // Waits for the session's next send slot, or refuses when its queue is full.
        try await services.pacer.awaitTurn(for: session)

        // Stored before it leaves, so a crash mid-send leaves a record rather than a mystery.
        let message = Message(
            id: .generate(), sessionID: session.id, direction: .outgoing, from: ownNumber, fromName: session.name,
            to: phone, body: text, status: .pending, timestamp: .now(), replyTo: replyTo
        )
        _ = try await services.store.insertMessage(message, events: [])
        let announce: @Sendable (Message) -> [OutboxEvent] = { [WebhookEvents.status(of: $0, at: .now())] }
        let receipt: SendReceipt
        do {
            receipt = try await engine.send(OutgoingMessage(id: message.id, to: phone, body: text, quotedExternalID: quoted?.externalID))
        } catch {
            // Refused on the spot: the caller gets the error instead of a message id, so no
            // webhook announces a message it never heard of; the record stays as `failed`.
            _ = try await services.store.advanceMessage(message.id, in: session.id, to: .failed, at: .now(), externalID: nil) { _ in [] }
            throw APIError(error)
        }
        let sent = try await services.store.advanceMessage(
            message.id, in: session.id, to: .sent, at: receipt.timestamp, externalID: receipt.externalID, announce: announce
        )
        return Success(
            SentMessage(
                messageID: message.id.rawValue, phone: phone.e164, message: text,
                status: (sent?.status ?? .sent).rawValue, timestamp: message.timestamp
            ),
            message: "Message sent successfully"
        )
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
        guard let message = try await services.store.message(id, in: caller.sessionID) else {
            throw APIError(.notFound, "Message not found", details: ["message_id": id.rawValue])
        }
        guard message.direction == .incoming else {
            throw APIError.invalid("message_id", "names an outgoing message; only incoming messages can be marked read")
        }
        var readAt = message.readAt
        if message.status != .read {
            let now = Timestamp.now()
            let updated = try await services.store.advanceMessage(id, in: caller.sessionID, to: .read, at: now, externalID: nil) { _ in [] }
            readAt = updated?.readAt ?? now
            // The blue ticks go to the sender only once the read is stored.
            let session = try await services.session(for: context)
            if session.status == .active, let externalID = message.externalID {
                do {
                    try await services.hub.engine(for: session).markRead(IncomingMessageReference(externalID: externalID, from: message.from))
                } catch {
                    context.logger.warning("read receipt not sent", metadata: ["message": "\(id)", "error": "\(error)"])
                }
            }
        }
        return Success(
            ReadReceipt(messageID: id.rawValue, status: MessageStatus.read.rawValue, readAt: (readAt ?? .now()).iso8601),
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
            page = try await services.store.conversation(query)
        } catch StoreError.unknownCursor {
            throw APIError.invalid("before", "must name a message of this conversation")
        }
        return Success(Conversation(
            phone: phone.e164, contactName: page.contactName, messages: page.messages.map(MessageRepresentation.init),
            totalMessages: page.totalMessages, hasMore: page.hasMore
        ))
    }
}
