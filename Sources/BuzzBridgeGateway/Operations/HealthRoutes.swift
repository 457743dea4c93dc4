import BuzzBridgeStorage
import Hummingbird

/// Probes for a process supervisor or a load balancer: no authentication, no rate limit, and
/// nothing in the answers that is not safe to show anyone who can reach the port.
///
/// - `GET /healthz`: the process runs and answers HTTP; always `200`.
/// - `GET /readyz`: `200` when the store answers, every known migration is applied and the
///   sessions that were active at start have their engines (connected or connecting); `503`
///   naming the failing check otherwise.
struct HealthRoutes: Sendable {
    let store: any GatewayStore
    let hub: SessionHub

    struct Liveness: Encodable, Sendable {
        let status = "ok"
    }

    struct Readiness: Encodable, Sendable {
        struct Checks: Encodable, Sendable {
            var store = "ok"
            var migrations = "ok"
            var sessions = "ok"
        }

        var status = "ready"
        var checks = Checks()
    }

    func register(on router: Router<GatewayRequestContext>) {
        router.get("healthz") { _, _ in try JSONResponse.make(Liveness(), status: .ok) }
        router.get("readyz") { _, _ in
            let readiness = await readiness()
            return try JSONResponse.make(readiness, status: readiness.status == "ready" ? .ok : .serviceUnavailable)
        }
    }

    func readiness() async -> Readiness {
        var readiness = Readiness()
        do {
            let schema = try await store.schemaStatus()
            if schema.applied != schema.known { readiness.checks.migrations = "\(schema.applied) of \(schema.known) applied" }
        } catch {
            readiness.checks.store = "not answering"
            readiness.checks.migrations = "unknown"
        }
        let sessions = await hub.readiness()
        if !sessions.restored {
            readiness.checks.sessions = "starting"
        } else if sessions.unrestored > 0 {
            readiness.checks.sessions = "\(sessions.unrestored) could not be started"
        }
        let checks = readiness.checks
        if [checks.store, checks.migrations, checks.sessions] != ["ok", "ok", "ok"] { readiness.status = "not_ready" }
        return readiness
    }
}
