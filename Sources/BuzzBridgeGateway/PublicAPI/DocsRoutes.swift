import Foundation
import HTTPTypes
import Hummingbird

/// The OpenAPI document and the human-readable docs page, both shipped as resources. The page
/// gets the admin panel's headers: its one inline stylesheet is allowed by hash, nothing else runs.
struct DocsRoutes {
    let openAPI: ByteBuffer
    let docsPage: ByteBuffer
    let docsHeaders: HTTPFields

    init() throws {
        func load(_ name: String, _ ext: String) throws -> ByteBuffer {
            guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Resources") else {
                throw APIError(.internalError, "missing resource \(name).\(ext)")
            }
            return ByteBuffer(bytes: try Data(contentsOf: url))
        }
        openAPI = try load("openapi", "json")
        docsPage = try load("docs", "html")
        let html = String(buffer: docsPage)
        let styles = html.components(separatedBy: "<style>").dropFirst().compactMap { $0.components(separatedBy: "</style>").first }
        var headers: HTTPFields = [.contentType: "text/html; charset=utf-8"]
        ContentSecurityPolicy.apply(ContentSecurityPolicy.strict(styles: Array(styles), scripts: [], extra: ["img-src 'self' data:"]), to: &headers)
        docsHeaders = headers
    }

    func register(on router: Router<GatewayRequestContext>) {
        let openAPI = self.openAPI, docsPage = self.docsPage, docsHeaders = self.docsHeaders
        router.get("api/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: openAPI))
        }
        router.get("docs") { _, _ in
            Response(status: .ok, headers: docsHeaders, body: .init(byteBuffer: docsPage))
        }
    }
}
