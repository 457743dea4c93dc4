import BuzzBridgeStorage
import Hummingbird
import NIOCore

/// `GET /metrics`: Prometheus' text exposition format.
///
/// Metrics tell who uses the gateway and how much (sessions, traffic by route), so they are not
/// public. A scraper presents the metrics token when one is configured (it can read metrics and
/// nothing else), or the admin token; failed attempts count against the client address like
/// every other failed authentication.
struct MetricsRoutes: Sendable {
    let metrics: GatewayMetrics
    let store: any GatewayStore & WebhookStore
    let access: MetricsAccess
    let failures: FailedAuthLimiter

    func register(on router: Router<GatewayRequestContext>) {
        router.get("metrics") { request, context in
            guard let token = BearerToken.token(in: request), try await access.admits(token) else {
                throw try await failures.refusal(
                    APIError(.unauthorized, "Invalid or missing metrics or admin token"), request: request, context: context)
            }
            let body = try await metrics.scrape(from: store)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: body))
            )
        }
    }
}

/// Which bearer tokens may read `/metrics`: the metrics token, if configured, and the admin token.
struct MetricsAccess: Sendable {
    let provisioning: Provisioning
    /// SHA-256 of the configured metrics token; nil when none is configured.
    let metricsTokenHash: [UInt8]?

    init(provisioning: Provisioning, metricsToken: String?) {
        self.provisioning = provisioning
        self.metricsTokenHash = metricsToken.map(APIKeyFormat.hash)
    }

    func admits(_ token: String) async throws -> Bool {
        if let metricsTokenHash, APIKeyFormat.constantTimeEquals(APIKeyFormat.hash(token), metricsTokenHash) { return true }
        return try await provisioning.isAdminToken(token)
    }
}
