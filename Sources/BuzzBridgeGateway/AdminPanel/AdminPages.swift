import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Mustache

/// Renders the panel's pages from the Mustache templates in `Resources/AdminPanel`.
///
/// Every value a template prints with `{{…}}` is HTML-escaped by Mustache, so a session name or a
/// message body can never inject markup; only the panel's own stylesheet and script are inserted
/// raw. Those two are inline (one response is one page) and the Content-Security-Policy allows
/// exactly them by their SHA-256, so no other script or style can run, injected or not.
struct AdminPages: Sendable {
    private let library: MustacheLibrary
    private let assets: Assets
    private let contentSecurityPolicy: String

    struct Assets: Sendable {
        let stylesheet: String
        let script: String
    }

    /// The panel's sections, in the order of the navigation bar.
    enum Section: String, CaseIterable, Sendable {
        case sessions = "Sessions", keys = "API keys", webhooks = "Webhooks", messages = "Messages"

        var path: String {
            switch self {
            case .sessions: "/admin/sessions"
            case .keys: "/admin/keys"
            case .webhooks: "/admin/webhooks"
            case .messages: "/admin/messages"
            }
        }
    }

    /// A one-line message above a page's content.
    struct Flash: Sendable {
        let text: String
        let kind: String

        static func success(_ text: String) -> Flash { Flash(text: text, kind: "ok") }
        static func problem(_ text: String) -> Flash { Flash(text: text, kind: "error") }
    }

    /// What the layout template reads; `page` is what the page's own template reads.
    private struct Frame<Page> {
        struct NavigationItem {
            let name: String
            let path: String
            let isCurrent: Bool
        }

        let title: String
        let showsNavigation: Bool
        let navigation: [NavigationItem]
        let csrf: String
        let flashes: [Flash]
        let assets: Assets
        let page: Page
    }

    /// Loads the templates and assets shipped with the gateway; a missing or broken template stops
    /// the server at start rather than at the first request.
    static func load() throws -> AdminPages {
        guard let folder = Bundle.module.url(forResource: "AdminPanel", withExtension: nil, subdirectory: "Resources") else {
            throw AdminPagesError.missingResource("Resources/AdminPanel")
        }
        var library = MustacheLibrary()
        let files = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
        for file in files where file.pathExtension == "mustache" {
            try library.register(String(contentsOf: file, encoding: .utf8), named: file.deletingPathExtension().lastPathComponent)
        }
        let assets = Assets(
            stylesheet: try String(contentsOf: folder.appendingPathComponent("panel.css"), encoding: .utf8),
            script: try String(contentsOf: folder.appendingPathComponent("panel.js"), encoding: .utf8)
        )
        return AdminPages(library: library, assets: assets)
    }

    private init(library: MustacheLibrary, assets: Assets) {
        self.library = library
        self.assets = assets
        self.contentSecurityPolicy = ContentSecurityPolicy.strict(
            styles: [assets.stylesheet], scripts: [assets.script], extra: ["img-src 'self' data:", "connect-src 'self'", "form-action 'self'"]
        )
    }

    /// Renders `template` inside the layout. `csrf` is the login's form token (nil before login,
    /// which also hides the navigation).
    func render<Page>(
        _ template: String, title: String, section: Section?, csrf: String?, flash: Flash? = nil,
        status: HTTPResponse.Status = .ok, page: Page
    ) throws -> Response {
        let frame = Frame(
            title: title,
            showsNavigation: section != nil,
            navigation: section == nil ? [] : Section.allCases.map { .init(name: $0.rawValue, path: $0.path, isCurrent: $0 == section) },
            csrf: csrf ?? "",
            flashes: flash.map { [$0] } ?? [],
            assets: assets,
            page: page
        )
        guard let html = library.render(frame, withTemplate: template) else { throw AdminPagesError.missingTemplate(template) }
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        ContentSecurityPolicy.apply(contentSecurityPolicy, to: &headers)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }
}

enum AdminPagesError: Error, CustomStringConvertible {
    case missingResource(String)
    case missingTemplate(String)

    var description: String {
        switch self {
        case .missingResource(let path): "the gateway's resource \(path) is missing from this build"
        case .missingTemplate(let name): "the admin panel template \(name).mustache is missing from this build"
        }
    }
}

/// The headers that keep the panel's and the docs page's HTML from being framed, sniffed or
/// extended: a policy that names each inline style and script by its hash, and nothing else.
enum ContentSecurityPolicy {
    static func strict(styles: [String], scripts: [String], extra: [String] = []) -> String {
        func sources(_ blocks: [String]) -> String {
            blocks.isEmpty
                ? "'none'" : blocks.map { "'sha256-\(Data(SHA256.hash(data: Data($0.utf8))).base64EncodedString())'" }.joined(separator: " ")
        }
        return
            (["default-src 'none'", "style-src \(sources(styles))", "script-src \(sources(scripts))"] + extra
            + ["frame-ancestors 'none'", "base-uri 'none'"]).joined(separator: "; ")
    }

    static func apply(_ policy: String, to headers: inout HTTPFields) {
        headers[HTTPField.Name("Content-Security-Policy")!] = policy
        headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Referrer-Policy")!] = "same-origin"
    }
}
