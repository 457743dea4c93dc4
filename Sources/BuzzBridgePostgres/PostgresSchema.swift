/// The PostgreSQL schema, one migration per version, recorded in `schema_migrations`.
///
/// The tables mirror SQLite's (``Schema``) with PostgreSQL's types: timestamps are `BIGINT`
/// milliseconds since the epoch, as in SQLite, so both stores read and write the same values;
/// text a person typed (message bodies, names) is `BYTEA` holding its UTF-8, because PostgreSQL's
/// `TEXT` cannot hold U+0000 and every character must survive. Migrations only add; none drops or
/// rewrites data.
enum PostgresSchema {
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                name BYTEA NOT NULL,
                status TEXT NOT NULL,
                phone_number TEXT,
                connected_at BIGINT,
                last_activity BIGINT,
                disconnected_at BIGINT,
                created_at BIGINT NOT NULL,
                lid TEXT,
                push_name BYTEA,
                platform TEXT,
                disconnect_reason TEXT,
                connection TEXT
            )
            """,
            """
            CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                secret_hash BYTEA NOT NULL,
                label TEXT,
                created_at BIGINT NOT NULL,
                last_used_at BIGINT,
                revoked_at BIGINT,
                scopes TEXT NOT NULL,
                requests_per_minute INTEGER,
                expires_at BIGINT
            )
            """,
            "CREATE INDEX api_keys_by_session ON api_keys(session_id)",
            """
            CREATE TABLE messages (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                external_id TEXT,
                direction TEXT NOT NULL,
                from_number TEXT NOT NULL,
                from_name BYTEA,
                to_number TEXT NOT NULL,
                contact TEXT NOT NULL,
                body BYTEA NOT NULL,
                status TEXT NOT NULL,
                message_type TEXT NOT NULL,
                media_url TEXT,
                reply_to TEXT,
                timestamp BIGINT NOT NULL,
                read_at BIGINT,
                updated_at BIGINT NOT NULL,
                idempotency_key TEXT,
                request_fingerprint TEXT,
                answer_status INTEGER,
                answer_body BYTEA
            )
            """,
            "CREATE INDEX messages_by_time ON messages(session_id, timestamp DESC, seq DESC)",
            "CREATE INDEX messages_by_contact ON messages(session_id, contact, timestamp DESC, seq DESC)",
            "CREATE INDEX messages_by_status ON messages(session_id, status, timestamp DESC, seq DESC)",
            "CREATE UNIQUE INDEX messages_by_external_id ON messages(session_id, direction, external_id) WHERE external_id IS NOT NULL",
            """
            CREATE UNIQUE INDEX messages_by_idempotency_key ON messages(session_id, idempotency_key)
            WHERE idempotency_key IS NOT NULL
            """,
            """
            CREATE TABLE contacts (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                phone TEXT NOT NULL,
                name BYTEA NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (session_id, phone)
            )
            """,
            """
            CREATE TABLE events (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                type TEXT NOT NULL,
                payload BYTEA NOT NULL,
                created_at BIGINT NOT NULL
            )
            """,
            "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """
            CREATE TABLE webhook_endpoints (
                id TEXT PRIMARY KEY,
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                url TEXT NOT NULL,
                secret TEXT NOT NULL,
                events TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                disabled_at BIGINT
            )
            """,
            "CREATE UNIQUE INDEX webhook_endpoints_by_url ON webhook_endpoints(session_id, url) WHERE disabled_at IS NULL",
            """
            CREATE TABLE webhook_deliveries (
                id TEXT PRIMARY KEY,
                event_seq BIGINT NOT NULL REFERENCES events(seq) ON DELETE CASCADE,
                endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
                session_id TEXT NOT NULL,
                conversation TEXT NOT NULL DEFAULT '',
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                round_attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at BIGINT,
                last_status INTEGER,
                last_error TEXT,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            "CREATE INDEX webhook_deliveries_queue ON webhook_deliveries(endpoint_id, state, event_seq)",
            "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(endpoint_id, state, next_attempt_at)",
            "CREATE INDEX webhook_deliveries_by_session ON webhook_deliveries(session_id, event_seq DESC)",
            "CREATE INDEX webhook_deliveries_by_state ON webhook_deliveries(state)",
            "CREATE INDEX webhook_deliveries_by_conversation ON webhook_deliveries(endpoint_id, state, conversation, event_seq)",
            """
            CREATE TABLE webhook_attempts (
                delivery_id TEXT NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
                attempt INTEGER NOT NULL,
                at BIGINT NOT NULL,
                status_code INTEGER,
                error TEXT,
                latency_ms INTEGER NOT NULL,
                PRIMARY KEY (delivery_id, attempt)
            )
            """,
        ],
        // What live sessions know of a message (the sender's LID, the chat and sender as WhatsApp
        // addressed them, the group), and media messages' files, as in SQLite.
        [
            "ALTER TABLE messages ADD COLUMN lid TEXT",
            "ALTER TABLE messages ADD COLUMN chat_jid TEXT",
            "ALTER TABLE messages ADD COLUMN sender_jid TEXT",
            "ALTER TABLE messages ADD COLUMN group_id TEXT",
            "ALTER TABLE messages ADD COLUMN group_subject BYTEA",
            "ALTER TABLE messages ADD COLUMN media_mime_type TEXT",
            "ALTER TABLE messages ADD COLUMN media_file_name BYTEA",
            "ALTER TABLE messages ADD COLUMN media_size BIGINT",
            "ALTER TABLE messages ADD COLUMN media_width BIGINT",
            "ALTER TABLE messages ADD COLUMN media_height BIGINT",
            "ALTER TABLE messages ADD COLUMN media_status TEXT",
            "ALTER TABLE messages ADD COLUMN media_blob TEXT",
        ],
        // The WhatsApp and Signal protocol state of live sessions (``ProtocolStateStore``), the
        // same tables and columns as SQLite's `wa_` tables (`user` is quoted: a keyword here).
        // Every table goes with its session.
        [
            """
            CREATE TABLE wa_device (
                session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
                credentials BYTEA,
                paired_device BYTEA,
                signed_prekey BYTEA,
                next_prekey_id BIGINT NOT NULL DEFAULT 1,
                push_name BYTEA
            )
            """,
            """
            CREATE TABLE wa_prekeys (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                key_id BIGINT NOT NULL,
                record BYTEA NOT NULL,
                uploaded BOOLEAN NOT NULL DEFAULT FALSE,
                PRIMARY KEY (session_id, key_id)
            )
            """,
            "CREATE INDEX wa_prekeys_by_upload ON wa_prekeys(session_id, uploaded, key_id)",
            """
            CREATE TABLE wa_identities (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                "user" TEXT NOT NULL,
                device BIGINT NOT NULL,
                identity BYTEA NOT NULL,
                PRIMARY KEY (session_id, "user", device)
            )
            """,
            """
            CREATE TABLE wa_signal_sessions (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                "user" TEXT NOT NULL,
                device BIGINT NOT NULL,
                record BYTEA NOT NULL,
                PRIMARY KEY (session_id, "user", device)
            )
            """,
            """
            CREATE TABLE wa_sender_keys (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                group_id TEXT NOT NULL,
                sender_user TEXT NOT NULL,
                sender_device BIGINT NOT NULL,
                record BYTEA NOT NULL,
                PRIMARY KEY (session_id, group_id, sender_user, sender_device)
            )
            """,
            """
            CREATE TABLE wa_lid_map (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                lid TEXT NOT NULL,
                phone TEXT NOT NULL,
                PRIMARY KEY (session_id, lid)
            )
            """,
            "CREATE UNIQUE INDEX wa_lid_map_by_phone ON wa_lid_map(session_id, phone)",
            """
            CREATE TABLE wa_device_lists (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                "user" TEXT NOT NULL,
                record BYTEA NOT NULL,
                fetched_at BIGINT NOT NULL,
                PRIMARY KEY (session_id, "user")
            )
            """,
            // The decrypt buffer: each decrypted message's plaintext, written in the transaction of
            // the ratchet step that produced it, keyed by the ciphertext's hash.
            """
            CREATE TABLE wa_decrypt_buffer (
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                hash BYTEA NOT NULL,
                plaintext BYTEA,
                server_timestamp BIGINT NOT NULL,
                inserted_at BIGINT NOT NULL,
                PRIMARY KEY (session_id, hash)
            )
            """,
            "CREATE INDEX wa_decrypt_buffer_by_age ON wa_decrypt_buffer(session_id, inserted_at)",
        ],
        // Incoming files still to be fetched from WhatsApp, as in SQLite.
        [
            "ALTER TABLE messages ADD COLUMN media_source TEXT",
            "CREATE INDEX messages_pending_media ON messages(media_status) WHERE media_source IS NOT NULL",
        ],
        // Session ownership leases for several nodes (``SessionLeases``): the holder, its fencing
        // token and the expiry by the database's clock. Tokens come from one sequence, so a
        // session's tokens only grow, across releases and even a session deleted and made again.
        // A row with no owner is free; its token stays as the floor for the next grant.
        [
            "CREATE SEQUENCE session_lease_tokens AS BIGINT START WITH 1 NO CYCLE",
            """
            CREATE TABLE session_leases (
                session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
                owner TEXT,
                token BIGINT NOT NULL DEFAULT 0 CHECK (token >= 0),
                expires_at BIGINT NOT NULL DEFAULT 0
            )
            """,
        ],
        // Several nodes serving (``PostgresSessionOwnership``): each node's heartbeat, by the
        // database's clock, and a move an operator asked for (`buzzbridge sessions move`), kept
        // until the target node has the lease.
        [
            "CREATE TABLE cluster_nodes (node_id TEXT PRIMARY KEY, alive_until BIGINT NOT NULL)",
            "ALTER TABLE session_leases ADD COLUMN pinned_to TEXT",
        ],
        // Rate limits shared by the nodes (``PostgresRateLimitCounter``): per counter and key, the
        // instants (database clock, seconds) of the requests counted in the sliding window. The
        // function counts one request under the row's lock, so racing nodes never exceed a limit;
        // now and then it drops the rows of keys that have gone quiet.
        [
            """
            CREATE TABLE rate_limit_windows (
                counter TEXT NOT NULL,
                key TEXT NOT NULL,
                hits DOUBLE PRECISION[] NOT NULL,
                PRIMARY KEY (counter, key)
            )
            """,
            """
            CREATE FUNCTION buzzbridge_rate_limit_reserve(
                p_counter TEXT, p_key TEXT, p_limit BIGINT, p_window DOUBLE PRECISION,
                OUT granted BOOLEAN, OUT window_hits DOUBLE PRECISION[], OUT at_seconds DOUBLE PRECISION
            ) LANGUAGE plpgsql AS $$
            BEGIN
                at_seconds := extract(epoch FROM clock_timestamp());
                INSERT INTO rate_limit_windows (counter, key, hits) VALUES (p_counter, p_key, '{}') ON CONFLICT DO NOTHING;
                SELECT ARRAY(SELECT h FROM unnest(w.hits) AS h WHERE h > at_seconds - p_window ORDER BY h) INTO window_hits
                FROM rate_limit_windows w WHERE w.counter = p_counter AND w.key = p_key FOR UPDATE;
                granted := cardinality(window_hits) < p_limit;
                IF granted THEN
                    window_hits := window_hits || at_seconds;
                END IF;
                UPDATE rate_limit_windows SET hits = window_hits WHERE counter = p_counter AND key = p_key;
                IF random() < 0.001 THEN
                    DELETE FROM rate_limit_windows
                    WHERE counter = p_counter AND (cardinality(hits) = 0 OR hits[cardinality(hits)] <= at_seconds - p_window);
                END IF;
            END
            $$
            """,
        ],
        // The node sending a delivery, so that another node puts it back only once that node is dead.
        [
            "ALTER TABLE webhook_deliveries ADD COLUMN claimed_by TEXT"
        ],
        // Sends accepted by a node that does not own the session (``PostgresStore/enqueue(_:idempotency:)``),
        // waiting for the owner: the message itself is in `messages` (`pending`); `claim_token` is
        // the lease token of the owner that claimed the entry to send it, null while unclaimed.
        [
            """
            CREATE TABLE send_queue (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                message_id TEXT NOT NULL UNIQUE REFERENCES messages(id) ON DELETE CASCADE,
                session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                queued_at BIGINT NOT NULL,
                claim_token BIGINT
            )
            """,
            "CREATE INDEX send_queue_by_session ON send_queue(session_id, seq)",
        ],
    ]
}
