import Foundation
import Hummingbird

/// The OpenAPI document and the human-readable docs page, both shipped as resources.
struct DocsRoutes {
    let openAPI: ByteBuffer
    let docsPage: ByteBuffer

    init() throws {
        func load(_ name: String, _ ext: String) throws -> ByteBuffer {
            guard let url = Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Resources") else {
                throw APIError(.internalError, "missing resource \(name).\(ext)")
            }
            return ByteBuffer(bytes: try Data(contentsOf: url))
        }
        openAPI = try load("openapi", "json")
        docsPage = try load("docs", "html")
    }

    func register(on router: Router<GatewayRequestContext>) {
        let openAPI = self.openAPI, docsPage = self.docsPage
        router.get("api/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: openAPI))
        }
        router.get("docs") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: docsPage))
        }
    }
}
