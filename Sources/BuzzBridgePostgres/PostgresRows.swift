import BuzzBridgeCore
import BuzzBridgeStorage
import NIOCore
import PostgresNIO

extension PostgresRandomAccessRow {
    func text(_ column: String) throws -> String {
        guard let value = try self[column].decode(String?.self) else { throw StoreError.corruptRow("missing \(column)") }
        return value
    }

    func optionalText(_ column: String) throws -> String? { try self[column].decode(String?.self) }

    /// Text a person typed, stored as its UTF-8 bytes (see ``PostgresSchema``).
    func typedText(_ column: String) throws -> String? { try self[column].decode(ByteBuffer?.self).map { String(buffer: $0) } }

    func typedText(_ index: Int) throws -> String? { try self[index].decode(ByteBuffer?.self).map { String(buffer: $0) } }

    func timestamp(_ column: String) throws -> Timestamp? {
        try self[column].decode(Int64?.self).map { Timestamp(millisecondsSinceEpoch: $0) }
    }

    func value<T: RawRepresentable>(_ column: String) throws -> T where T.RawValue == String {
        guard let value = T(rawValue: try text(column)) else { throw StoreError.corruptRow("bad value in \(column)") }
        return value
    }
}

extension Session {
    init(row: PostgresRandomAccessRow) throws {
        self.init(
            id: SessionID(rawValue: try row.text("id")),
            kind: try row.value("kind"),
            name: try row.typedText("name") ?? "",
            status: try row.value("status"),
            phoneNumber: try row.optionalText("phone_number").flatMap { PhoneNumber($0) },
            connectedAt: try row.timestamp("connected_at"),
            lastActivity: try row.timestamp("last_activity"),
            disconnectedAt: try row.timestamp("disconnected_at"),
            createdAt: try row.timestamp("created_at") ?? Timestamp(millisecondsSinceEpoch: 0),
            lid: try row.optionalText("lid"),
            pushName: try row.typedText("push_name"),
            platform: try row.optionalText("platform"),
            // A value this build does not know (written by a newer one) reads as none.
            disconnectReason: try row.optionalText("disconnect_reason").flatMap(DisconnectReason.init(rawValue:)),
            connection: try row.optionalText("connection").flatMap(SessionConnection.init(rawValue:))
        )
    }
}

extension APIKeyRecord {
    init(row: PostgresRandomAccessRow) throws {
        guard let hash = try row["secret_hash"].decode(ByteBuffer?.self) else { throw StoreError.corruptRow("missing secret_hash") }
        guard let scopes = try row.optionalText("scopes").flatMap(APIKeyScope.parseList) else { throw StoreError.corruptRow("api key scopes") }
        self.init(
            id: try row.text("id"),
            sessionID: SessionID(rawValue: try row.text("session_id")),
            secretHash: Array(hash.readableBytesView),
            label: try row.optionalText("label"),
            createdAt: try row.timestamp("created_at") ?? Timestamp(millisecondsSinceEpoch: 0),
            lastUsedAt: try row.timestamp("last_used_at"),
            revokedAt: try row.timestamp("revoked_at"),
            scopes: scopes,
            requestsPerMinute: try row["requests_per_minute"].decode(Int?.self),
            expiresAt: try row.timestamp("expires_at")
        )
    }
}

/// Messages are read by column position (``PostgresStore/messageColumns``).
extension Message {
    init(row: PostgresRandomAccessRow) throws {
        func text(_ index: Int) throws -> String {
            guard let value = try row[index].decode(String?.self) else { throw StoreError.corruptRow("message column \(index) is null") }
            return value
        }
        func phone(_ index: Int) throws -> PhoneNumber {
            guard let number = PhoneNumber(try text(index)) else { throw StoreError.corruptRow("bad phone in message column \(index)") }
            return number
        }
        func value<T: RawRepresentable>(_ index: Int) throws -> T where T.RawValue == String {
            guard let value = T(rawValue: try text(index)) else { throw StoreError.corruptRow("bad value in message column \(index)") }
            return value
        }
        self.init(
            id: MessageID(rawValue: try text(0)),
            sessionID: SessionID(rawValue: try text(1)),
            externalID: try row[2].decode(String?.self),
            direction: try value(3),
            from: try phone(4),
            fromName: try row.typedText(5),
            to: try phone(6),
            body: try row.typedText(7) ?? "",
            status: try value(8),
            timestamp: Timestamp(millisecondsSinceEpoch: try row[12].decode(Int64.self)),
            type: try value(9),
            mediaURL: try row[10].decode(String?.self),
            media: try Self.media(row),
            replyTo: try row[11].decode(String?.self).map(MessageID.init(rawValue:)),
            readAt: try row[13].decode(Int64?.self).map { Timestamp(millisecondsSinceEpoch: $0) },
            lid: try row[14].decode(String?.self),
            chatJID: try row[15].decode(String?.self),
            senderJID: try row[16].decode(String?.self),
            group: try row[17].decode(String?.self).map { MessageGroup(id: $0, subject: try row.typedText(18)) }
        )
    }

    private static func media(_ row: PostgresRandomAccessRow) throws -> MediaAttachment? {
        guard let status = try row[24].decode(String?.self) else { return nil }
        guard let status = MediaStatus(rawValue: status), let mimeType = try row[19].decode(String?.self) else {
            throw StoreError.corruptRow("bad media columns")
        }
        return MediaAttachment(
            mimeType: mimeType, fileName: try row.typedText(20), size: try row[21].decode(Int64?.self).map(Int.init),
            width: try row[22].decode(Int64?.self).map(Int.init), height: try row[23].decode(Int64?.self).map(Int.init), status: status,
            blobHash: try row[25].decode(String?.self), downloadSource: try row[26].decode(String?.self)
        )
    }
}
