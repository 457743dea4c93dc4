import Hummingbird
import Logging

/// Measures every request once: counts and times it by route template and final status, and
/// writes one `request` line at debug level (method, route, status, milliseconds; never the raw
/// path or query, which can hold phone numbers).
///
/// It sits outside the error envelope, so refused and failed requests are counted with the status
/// the client got. The time is until the response is produced (bodies are small, in memory);
/// requests no route matched count under the route `unmatched`.
struct RequestMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: HTTPRequestMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            let response = try await next(request, context)
            record(request, context: context, status: response.status.code, since: started)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            record(request, context: context, status: status, since: started)
            throw error
        }
    }

    private func record(_ request: Request, context: Context, status: Int, since started: ContinuousClock.Instant) {
        let duration = ContinuousClock.now - started
        // The router fills in the template of the route it matched, in a box shared with this context.
        let route = context.endpointPath ?? "unmatched"
        metrics.record(route: route, method: request.method, status: status, duration: duration)
        context.logger.debug(
            "request",
            metadata: [
                "method": .string(request.method.rawValue), "route": .string(route), "status": .stringConvertible(status),
                "duration_ms": .stringConvertible(Double(duration.nanoseconds) / 1_000_000),
            ])
    }
}
