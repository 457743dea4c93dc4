import ArgumentParser
import BuzzBridgeCore
import BuzzBridgeGateway
import BuzzBridgeStorage

struct WebhooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhooks",
        abstract: "Set, list and remove a session's webhook endpoints. Works while the server runs.",
        subcommands: [SetEndpoint.self, List.self, Remove.self]
    )

    struct SetEndpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Add an endpoint to a session, or change the secret and events of the one with this URL.",
            discussion: "Private and loopback addresses are accepted here; a server in production mode refuses to send to them."
        )
        @OptionGroup var dataOptions: DataOptions
        @Option(help: "The session, as `session_…` (the session_id the API returns).") var session: String
        @Option(help: "http(s) URL the events are POSTed to.") var url: String
        @Option(help: "Key of the HMAC-SHA256 signature (X-Webhook-Signature).") var secret: String
        @Option(help: "Comma-separated event types (default: all): message.received, message.status, session.status.")
        var events: String?

        func validate() throws {
            if let problem = WebhookURLPolicy.checkForm(url) { throw ValidationError("--url \(problem)") }
            if let problem = WebhookSecret.problem(secret) { throw ValidationError("--secret \(problem)") }
            if let problem = WebhookEventFilter.problem(eventList) { throw ValidationError("--events \(problem)") }
        }

        var eventList: [String]? {
            events.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
        }

        func run() async throws {
            try await withStore(dataOptions) { store in
                let sessionID = SessionID(rawValue: session)
                guard try await store.session(sessionID) != nil else { throw ValidationError("no session \(session)") }
                let (endpoint, created) = try await store.saveWebhookEndpoint(
                    session: sessionID, url: url, secret: secret, events: eventList, at: .now()
                )
                print("\(created ? "created" : "updated") \(endpoint.id)")
                print("url:    \(endpoint.url)")
                print("events: \(endpoint.events?.joined(separator: ",") ?? "all")")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a session's active endpoints.")
        @OptionGroup var dataOptions: DataOptions
        @Option(help: "The session, as `session_…`.") var session: String

        func run() async throws {
            try await withStore(dataOptions) { store in
                let endpoints = try await store.webhookEndpoints(session: SessionID(rawValue: session))
                var table = TextTable("WEBHOOK_ID", "EVENTS", "URL")
                for endpoint in endpoints {
                    table.add(endpoint.id.rawValue, endpoint.events?.joined(separator: ",") ?? "all", endpoint.url)
                }
                print(table.render())
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an endpoint; its queued deliveries are cancelled.")
        @OptionGroup var dataOptions: DataOptions
        @Option(help: "The endpoint, as `wh_…`.") var webhook: String

        func run() async throws {
            try await withStore(dataOptions) { store in
                guard try await store.removeWebhookEndpoint(id: WebhookEndpointID(rawValue: webhook), at: .now()) else {
                    throw ValidationError("no active webhook \(webhook)")
                }
                print("removed \(webhook)")
            }
        }
    }
}
