import ArgumentParser
import BuzzBridgeCore
import BuzzBridgeGateway
import BuzzBridgeStorage

struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions",
        abstract: "Create and list sessions (one session = one WhatsApp account).",
        subcommands: [Create.self, List.self]
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
}

extension SessionKind: ExpressibleByArgument {}
