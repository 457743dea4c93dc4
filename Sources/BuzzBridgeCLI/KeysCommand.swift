import ArgumentParser
import BuzzBridgeCore
import BuzzBridgeGateway
import BuzzBridgeStorage
import Foundation

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list, revoke and regenerate API keys. Several keys may be active at once, for rotation without downtime.",
        subcommands: [Create.self, List.self, Revoke.self, Regenerate.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a new key for a session and print it (shown once).")
        @OptionGroup var dataOptions: DataOptions
        @Option(help: "The session, as `session_…`.") var session: String
        @Option(help: "A note to recognise the key by.") var label: String?
        @Option(help: "Space- or comma-separated scopes: messages:read, messages:send, session:manage (default: all).") var scopes: String?
        @Option(help: "The key's own requests per minute (default: the server's --rate-limit).") var rateLimit: Int?
        @Option(help: "Days until the key stops working (default: never).") var expiresInDays: Int?

        func validate() throws {
            if let scopes, APIKeyScope.parseList(scopes)?.isEmpty != false {
                throw ValidationError("--scopes must name at least one of: messages:read, messages:send, session:manage")
            }
            if let rateLimit, rateLimit < 1 { throw ValidationError("--rate-limit must be positive") }
            if let expiresInDays, expiresInDays < 1 { throw ValidationError("--expires-in-days must be positive") }
        }

        func run() async throws {
            try await withStore(dataOptions) { store in
                let expiry = expiresInDays.map { Timestamp(millisecondsSinceEpoch: Timestamp.now().millisecondsSinceEpoch + Int64($0) * 86_400_000) }
                let key = try await Provisioning(store: store).issueKey(
                    for: SessionID(rawValue: session), label: label, scopes: scopes.flatMap(APIKeyScope.parseList) ?? Set(APIKeyScope.allCases),
                    requestsPerMinute: rateLimit, expiresAt: expiry
                )
                print("key_id:  \(key.record.id)")
                print("api_key: \(key.plaintext)   (shown once)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a session's keys: prefix, use and revocation only.")
        @OptionGroup var dataOptions: DataOptions
        @Option(help: "The session, as `session_…`.") var session: String

        func run() async throws {
            try await withStore(dataOptions) { store in
                let sessionID = SessionID(rawValue: session)
                let keys = try await Provisioning(store: store).keys(for: sessionID)
                let kind = try await store.session(sessionID)?.kind ?? .sandbox
                var table = TextTable("KEY_ID", "PREFIX", "CREATED", "LAST_USED", "EXPIRES", "REVOKED", "SCOPES")
                for key in keys {
                    table.add(
                        key.id, kind.keyPrefix + key.id + "…", key.createdAt.iso8601, key.lastUsedAt?.iso8601 ?? "never",
                        key.expiresAt?.iso8601 ?? "never", key.revokedAt?.iso8601 ?? "-", APIKeyScope.format(key.scopes)
                    )
                }
                print(table.render())
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key; it stops working at once.")
        @OptionGroup var dataOptions: DataOptions
        @Option(help: "The key's id, as `keys list` shows it.") var key: String

        func run() async throws {
            try await withStore(dataOptions) { store in
                guard try await Provisioning(store: store).revokeKey(key) else {
                    throw ValidationError("no active key \(key)")
                }
                print("revoked \(key)")
            }
        }
    }

    struct Regenerate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue a new key for the same session and revoke the old one.")
        @OptionGroup var dataOptions: DataOptions
        @Option(help: "The key's id, as `keys list` shows it.") var key: String

        func run() async throws {
            try await withStore(dataOptions) { store in
                let issued = try await Provisioning(store: store).regenerateKey(key)
                print("revoked: \(key)")
                print("key_id:  \(issued.record.id)")
                print("api_key: \(issued.plaintext)   (shown once)")
            }
        }
    }
}

struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin",
        abstract: "Manage the admin credential of the admin API.",
        subcommands: [ResetToken.self, SetPassword.self]
    )

    struct SetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-password",
            abstract: "Set the admin panel's password (read from the terminal, or from standard input when piped)."
        )
        @OptionGroup var dataOptions: DataOptions

        func run() async throws {
            let password: String?
            if isatty(STDIN_FILENO) != 0 {
                password = getpass("New admin panel password: ").map { String(cString: $0) }
            } else {
                password = readLine(strippingNewline: true)
            }
            guard let password, !password.isEmpty else { throw ValidationError("no password given") }
            try await withStore(dataOptions) { store in
                do {
                    try await AdminPassword(store: store).set(password)
                } catch let error as AdminPasswordError {
                    throw ValidationError(error.description)
                }
                print("admin panel password set; existing panel logins stay valid until they expire or the server restarts")
            }
        }
    }

    struct ResetToken: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-token", abstract: "Replace the admin token and print the new one (shown once).")
        @OptionGroup var dataOptions: DataOptions

        func run() async throws {
            try await withStore(dataOptions) { store in
                print("admin_token: \(try await Provisioning(store: store).resetAdminToken())   (shown once)")
            }
        }
    }
}
