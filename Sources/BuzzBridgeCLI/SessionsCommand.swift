import ArgumentParser
import BuzzBridgeCore
import BuzzBridgeGateway
import BuzzBridgePostgres
import BuzzBridgeStorage

struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "Create and list sessions (one session = one WhatsApp account).",
        subcommands: [Create.self, List.self, Owners.self, Move.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a session and print its first API key (shown once).")
        @OptionGroup var dataOptions: DataOptions
        @Option(help: "sandbox (test numbers, bzb_test_ keys) or live (bzb_live_ keys).")
        var kind: SessionKind = .sandbox
        @Option(help: "Display name, used as from_name of outgoing messages.")
        var name: String = "BuzzBridge"

        func run() async throws {
            try await withStore(dataOptions) { store in
                let provisioning = Provisioning(store: store)
                let session = try await provisioning.createSession(kind: kind, name: name)
                let key = try await provisioning.issueKey(for: session.id, label: "created by CLI")
                print("session_id: \(session.id)")
                print("kind:       \(session.kind.rawValue)")
                print("api_key:    \(key.plaintext)   (shown once)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List sessions with their status.")
        @OptionGroup var dataOptions: DataOptions

        func run() async throws {
            try await withStore(dataOptions) { store in
                let sessions = try await store.sessions()
                var table = TextTable("SESSION", "KIND", "STATUS", "PHONE", "NAME")
                for session in sessions {
                    table.add(session.id.rawValue, session.kind.rawValue, session.status.rawValue, session.phoneNumber?.e164 ?? "-", session.name)
                }
                print(table.render())
            }
        }
    }

    /// Several nodes on PostgreSQL: which node serves which session.
    struct Owners: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Several nodes (PostgreSQL): list the live nodes and each session's owner.")
        @OptionGroup var dataOptions: DataOptions

        func run() async throws {
            guard let url = dataOptions.databaseURL else { throw ValidationError("owners are kept only with --database postgres://…") }
            let store = try await PostgresStore.open(url: url)
            let (owners, nodes): ([PostgresStore.SessionOwner], [String])
            do {
                (owners, nodes) = try await store.sessionOwners()
                try await store.close()
            } catch {
                try? await store.close()
                throw error
            }
            print("live nodes: \(nodes.isEmpty ? "none" : nodes.joined(separator: ", "))")
            var table = TextTable("SESSION", "OWNER", "UNTIL", "MOVE TO")
            for owner in owners {
                table.add(owner.session.rawValue, owner.owner ?? "-", owner.until?.iso8601 ?? "-", owner.pinnedTo ?? "-")
            }
            print(table.render())
        }
    }

    /// Several nodes on PostgreSQL: hands a session to another node on purpose.
    struct Move: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Several nodes (PostgreSQL): hand a session to another node.",
            discussion: """
                The owner stops the session's connection and releases it at its next round; NODE then logs it in and keeps it while \
                it runs (if NODE is down, the other nodes serve it until it is back). --anywhere lets any node serve it again.
                """
        )
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "The session to move.")
        var session: String
        @Option(help: "The node id to move it to (see `buzzbridge sessions owners`).")
        var to: String?
        @Flag(help: "Undo a move: the session goes wherever the nodes spread it.")
        var anywhere = false

        func validate() throws {
            guard (to == nil) != !anywhere else { throw ValidationError("give either --to NODE or --anywhere") }
        }

        func run() async throws {
            guard let url = dataOptions.databaseURL else { throw ValidationError("moving needs --database postgres://…") }
            let store = try await PostgresStore.open(url: url)
            let moved: Bool
            do {
                moved = try await store.pin(SessionID(rawValue: session), to: to)
                try await store.close()
            } catch {
                try? await store.close()
                throw error
            }
            guard moved else { throw ValidationError("no session \(session)") }
            if let to {
                print("moving \(session) to \(to): its owner hands it over at its next round")
            } else {
                print("\(session) may be served by any node again")
            }
        }
    }
}

extension SessionKind: ExpressibleByArgument {}
