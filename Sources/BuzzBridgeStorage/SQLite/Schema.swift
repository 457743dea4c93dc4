/// The database schema, one migration per schema version (`PRAGMA user_version`).
enum Schema {
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                name TEXT NOT NULL,
                status TEXT NOT NULL,
                phone_number TEXT,
                connected_at INTEGER,
                last_activity INTEGER,
                disconnected_at INTEGER,
                created_at INTEGER NOT NULL
            )
            """,
            """
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                secret_hash BLOB NOT NULL,
                label TEXT,
                created_at INTEGER NOT NULL,
                last_used_at INTEGER,
                revoked_at INTEGER
            )
            """,
            "CREATE INDEX api_keys_by_session ON api_keys(session_id)",
            """
            CREATE TABLE messages (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                external_id TEXT,
                direction TEXT NOT NULL,
                from_number TEXT NOT NULL,
                from_name TEXT,
                to_number TEXT NOT NULL,
                contact TEXT NOT NULL,
                body TEXT NOT NULL,
                status TEXT NOT NULL,
                message_type TEXT NOT NULL,
                media_url TEXT,
                reply_to TEXT,
                timestamp INTEGER NOT NULL,
                read_at INTEGER,
                updated_at INTEGER NOT NULL
            )
            """,
            // One index per filter the API offers, each already in the API's newest-first order.
            "CREATE INDEX messages_by_time ON messages(session_id, timestamp DESC, seq DESC)",
            "CREATE INDEX messages_by_contact ON messages(session_id, contact, timestamp DESC, seq DESC)",
            "CREATE INDEX messages_by_status ON messages(session_id, status, timestamp DESC, seq DESC)",
            """
            CREATE UNIQUE INDEX messages_by_external_id ON messages(session_id, direction, external_id)
            WHERE external_id IS NOT NULL
            """,
            // Totals for pagination without counting a million rows per request: kept by triggers,
            // per session (contact '') and per contact, per status.
            """
            CREATE TABLE message_counts (
                session_id TEXT NOT NULL,
                contact TEXT NOT NULL,
                status TEXT NOT NULL,
                n INTEGER NOT NULL,
                PRIMARY KEY (session_id, contact, status)
            ) WITHOUT ROWID
            """,
            """
            CREATE TRIGGER messages_counted_on_insert AFTER INSERT ON messages BEGIN
                INSERT INTO message_counts VALUES (NEW.session_id, '', NEW.status, 1)
                    ON CONFLICT (session_id, contact, status) DO UPDATE SET n = n + 1;
                INSERT INTO message_counts VALUES (NEW.session_id, NEW.contact, NEW.status, 1)
                    ON CONFLICT (session_id, contact, status) DO UPDATE SET n = n + 1;
            END
            """,
            """
            CREATE TRIGGER messages_counted_on_status AFTER UPDATE OF status ON messages
            WHEN OLD.status <> NEW.status BEGIN
                UPDATE message_counts SET n = n - 1
                    WHERE session_id = OLD.session_id AND contact IN ('', OLD.contact) AND status = OLD.status;
                INSERT INTO message_counts VALUES (NEW.session_id, '', NEW.status, 1)
                    ON CONFLICT (session_id, contact, status) DO UPDATE SET n = n + 1;
                INSERT INTO message_counts VALUES (NEW.session_id, NEW.contact, NEW.status, 1)
                    ON CONFLICT (session_id, contact, status) DO UPDATE SET n = n + 1;
            END
            """,
            """
            CREATE TRIGGER messages_counted_on_delete AFTER DELETE ON messages BEGIN
                UPDATE message_counts SET n = n - 1
                    WHERE session_id = OLD.session_id AND contact IN ('', OLD.contact) AND status = OLD.status;
            END
            """,
            """
            CREATE TABLE contacts (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                phone TEXT NOT NULL,
                name TEXT NOT NULL,
                updated_at INTEGER NOT NULL,
                PRIMARY KEY (session_id, phone)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                type TEXT NOT NULL,
                payload BLOB NOT NULL,
                created_at INTEGER NOT NULL
            )
            """,
            "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        ],
        // Webhooks: endpoints per session, one delivery per (event, endpoint), every attempt logged.
        [
            """
            CREATE TABLE webhook_endpoints (
                id TEXT PRIMARY KEY,
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                url TEXT NOT NULL,
                secret TEXT NOT NULL,
                events TEXT,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                disabled_at INTEGER
            )
            """,
            "CREATE UNIQUE INDEX webhook_endpoints_by_url ON webhook_endpoints(session_id, url) WHERE disabled_at IS NULL",
            """
            CREATE TABLE webhook_deliveries (
                id TEXT PRIMARY KEY,
                event_seq INTEGER NOT NULL REFERENCES events(seq) ON DELETE CASCADE,
                endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
                session_id TEXT NOT NULL,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                round_attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at INTEGER,
                last_status INTEGER,
                last_error TEXT,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )
            """,
            // The worker's queue in event order, the earliest due time per endpoint, and the log.
            "CREATE INDEX webhook_deliveries_queue ON webhook_deliveries(endpoint_id, state, event_seq)",
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(endpoint_id, state, next_attempt_at)",
            "CREATE INDEX webhook_deliveries_by_session ON webhook_deliveries(session_id, event_seq DESC)",
            "CREATE INDEX webhook_deliveries_by_state ON webhook_deliveries(state)",
            """
            CREATE TABLE webhook_attempts (
                delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
                attempt INTEGER NOT NULL,
                at INTEGER NOT NULL,
                status_code INTEGER,
                error TEXT,
                latency_ms INTEGER NOT NULL,
                PRIMARY KEY (delivery_id, attempt)
            ) WITHOUT ROWID
            """,
        ],
        // API key scopes, own rate limits and expiry. Keys made before hold every scope.
        [
            "ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'messages:read messages:send session:manage'",
            "ALTER TABLE api_keys ADD COLUMN requests_per_minute INTEGER",
            "ALTER TABLE api_keys ADD COLUMN expires_at INTEGER",
        ],
        // WhatsApp and Signal protocol state per session, as the engine serialised it
        // (``ProtocolStateStore``). Every table goes with its session.
        [
            """
            CREATE TABLE wa_device (
                session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
                credentials BLOB,
                paired_device BLOB,
                signed_prekey BLOB,
                next_prekey_id INTEGER NOT NULL DEFAULT 1
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE wa_prekeys (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                key_id INTEGER NOT NULL,
                record BLOB NOT NULL,
                uploaded INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (session_id, key_id)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX wa_prekeys_by_upload ON wa_prekeys(session_id, uploaded, key_id)",
            """
            CREATE TABLE wa_identities (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                user TEXT NOT NULL,
                device INTEGER NOT NULL,
                identity BLOB NOT NULL,
                PRIMARY KEY (session_id, user, device)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE wa_signal_sessions (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                user TEXT NOT NULL,
                device INTEGER NOT NULL,
                record BLOB NOT NULL,
                PRIMARY KEY (session_id, user, device)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE wa_sender_keys (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                group_id TEXT NOT NULL,
                sender_user TEXT NOT NULL,
                sender_device INTEGER NOT NULL,
                record BLOB NOT NULL,
                PRIMARY KEY (session_id, group_id, sender_user, sender_device)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE wa_lid_map (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                lid TEXT NOT NULL,
                phone TEXT NOT NULL,
                PRIMARY KEY (session_id, lid)
            ) WITHOUT ROWID
            """,
            "CREATE UNIQUE INDEX wa_lid_map_by_phone ON wa_lid_map(session_id, phone)",
            """
            CREATE TABLE wa_device_lists (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                user TEXT NOT NULL,
                record BLOB NOT NULL,
                fetched_at INTEGER NOT NULL,
                PRIMARY KEY (session_id, user)
            ) WITHOUT ROWID
            """,
        ],
        // What the live engine learns about the linked account, and why a session last disconnected.
        [
            "ALTER TABLE sessions ADD COLUMN lid TEXT",
            "ALTER TABLE sessions ADD COLUMN push_name TEXT",
            "ALTER TABLE sessions ADD COLUMN platform TEXT",
            "ALTER TABLE sessions ADD COLUMN disconnect_reason TEXT",
            "ALTER TABLE sessions ADD COLUMN connection TEXT",
        ],
        // The push name the protocol client announces, kept with the rest of its state.
        ["ALTER TABLE wa_device ADD COLUMN push_name BLOB"],
        // Idempotent sends: the client's Idempotency-Key, a digest of what it asked for, and the
        // first answer (status and body), kept with the message they made.
        [
            "ALTER TABLE messages ADD COLUMN idempotency_key TEXT",
            "ALTER TABLE messages ADD COLUMN request_fingerprint TEXT",
            "ALTER TABLE messages ADD COLUMN answer_status INTEGER",
            "ALTER TABLE messages ADD COLUMN answer_body BLOB",
            """
            CREATE UNIQUE INDEX messages_by_idempotency_key ON messages(session_id, idempotency_key)
            WHERE idempotency_key IS NOT NULL
            """,
        ],
        // Webhook deliveries know their event's conversation (the contact's phone, '' for session
        // events): one conversation's deliveries go out in order, different ones in parallel.
        // Deliveries still queued take it from their event's body; finished ones need none.
        [
            "ALTER TABLE webhook_deliveries ADD COLUMN conversation TEXT NOT NULL DEFAULT ''",
            """
            UPDATE webhook_deliveries SET conversation = COALESCE((
                SELECT CASE ev.type
                    WHEN 'message.received' THEN json_extract(CAST(ev.payload AS TEXT), '$.data.from')
                    WHEN 'message.status' THEN json_extract(CAST(ev.payload AS TEXT), '$.data.phone')
                END
                FROM events ev WHERE ev.seq = webhook_deliveries.event_seq AND json_valid(CAST(ev.payload AS TEXT))
            ), '')
            WHERE state IN ('pending', 'delivering')
            """,
            // The claim's search conversation by conversation (SQLiteStore.claimableIDs).
            "CREATE INDEX webhook_deliveries_by_conversation ON webhook_deliveries(endpoint_id, state, conversation, event_seq)",
        ],
        // The decrypt buffer (whatsmeow's event buffer): each decrypted message's plaintext, written
        // with the ratchet step in one transaction, keyed by the ciphertext's hash, so a message
        // WhatsApp delivers again after a crash is answered from here. The plaintext is cleared
        // once the message is stored; the hash stays two weeks.
        [
            """
            CREATE TABLE wa_decrypt_buffer (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                hash BLOB NOT NULL,
                plaintext BLOB,
                server_timestamp INTEGER NOT NULL,
                inserted_at INTEGER NOT NULL,
                PRIMARY KEY (session_id, hash)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX wa_decrypt_buffer_by_age ON wa_decrypt_buffer(session_id, inserted_at)",
        ],
        // What live sessions know of a message: the sender's LID, the chat and sender as WhatsApp
        // addressed them (read receipts go there), and the group it was sent in.
        [
            "ALTER TABLE messages ADD COLUMN lid TEXT",
            "ALTER TABLE messages ADD COLUMN chat_jid TEXT",
            "ALTER TABLE messages ADD COLUMN sender_jid TEXT",
            "ALTER TABLE messages ADD COLUMN group_id TEXT",
            "ALTER TABLE messages ADD COLUMN group_subject TEXT",
        ],
        // Media messages: what the file is, where it stands, and its name in the blob store
        // (SHA-256 of the content). Added columns only: rows written before read as text messages.
        [
            "ALTER TABLE messages ADD COLUMN media_mime_type TEXT",
            "ALTER TABLE messages ADD COLUMN media_file_name TEXT",
            "ALTER TABLE messages ADD COLUMN media_size INTEGER",
            "ALTER TABLE messages ADD COLUMN media_width INTEGER",
            "ALTER TABLE messages ADD COLUMN media_height INTEGER",
            "ALTER TABLE messages ADD COLUMN media_status TEXT",
            "ALTER TABLE messages ADD COLUMN media_blob TEXT",
        ],
        // Incoming files still to be fetched from WhatsApp: what the engine needs to fetch them,
        // so that downloads pending at a crash resume after the restart.
        [
            "ALTER TABLE messages ADD COLUMN media_source TEXT",
            "CREATE INDEX messages_pending_media ON messages(media_status) WHERE media_source IS NOT NULL",
        ],
    ]
}
