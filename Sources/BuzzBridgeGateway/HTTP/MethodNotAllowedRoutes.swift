import Hummingbird

/// Answers a method that a path does not have with `405 Method Not Allowed` and an `Allow`
/// header, in the error envelope, instead of Hummingbird's 404.
///
/// Registered on the same group as the path's real handlers, after them, so the answer passes
/// the group's authentication and rate limit (and carries its headers) like any other.
enum MethodNotAllowedRoutes {
    /// The methods HTTP defines for resources, and QUERY (the safe method with a body, RFC draft).
    static let methods: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options, .trace, HTTPRequest.Method("QUERY")!]

    /// For every route of `router` under `prefix` (a group's path, e.g. `/api`), a handler for
    /// each method the route lacks. Wildcard paths are left alone.
    static func register<Context: RequestContext>(on group: RouterGroup<Context>, prefix: String, router: Router<Context>) {
        var allowed: [String: [HTTPRequest.Method]] = [:]
        for route in router.routes {
            let path = route.path.description
            guard path.hasPrefix(prefix + "/"), !path.contains("*") else { continue }
            allowed[String(path.dropFirst(prefix.count + 1)), default: []].append(route.method)
        }
        for (path, present) in allowed {
            let allow = methods.filter(present.contains)
            for method in methods where !present.contains(method) {
                group.on(RouterPath(path), method: method) { _, _ -> Response in
                    throw APIError.methodNotAllowed(method, allowed: allow)
                }
            }
        }
    }
}
