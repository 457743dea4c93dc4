import BuzzBridgeCore
import BuzzBridgeGateway
import BuzzBridgeStorage
import Foundation
import TestSupport
import Testing

@Suite("Admin panel in a real browser (Debian's Chromium, headless)")
struct AdminPanelBrowserTests {
    /// Fails, never skips, when Chromium is missing: scripts/setup-test-env installs it.
    @Test func everyPageRendersAndAKeyCanBeCreatedInChromium() async throws {
        let gateway = try await AdminPanelTests.start()
        _ = try await gateway.request(
            .POST, "/api/sandbox/incoming", bearer: gateway.apiKey, body: #"{"phone":"+60123456789","message":"hello from the browser test"}"#)
        let shots = FileManager.default.temporaryDirectory.appendingPathComponent("bzb-admin-shots-\(UUID().uuidString)").path
        let output = try await PythonPeer.check(
            "admin_browser.py", arguments: [gateway.baseURL, AdminPanelTests.password, gateway.sessionID, shots, gateway.apiKey]
        )
        let report = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])

        #expect(report["redirected_to"] as? String == "/admin/login", "a browser without a login lands on the login page")
        #expect(report["after_login"] as? String == "/admin/sessions")
        #expect((report["cookie_visible_to_script"] as? String)?.contains("bzb_admin_session") == false, "the session cookie is HttpOnly")
        #expect((report["qr_natural_width"] as? Int ?? 0) > 100, "the QR image decoded in the browser")
        #expect(report["live_status"] as? String == "active", "the open session page noticed the scan by itself")

        let pages = try #require(report["pages"] as? [String: [String: Any]])
        #expect(Set(pages.keys) == ["sessions", "session", "keys", "webhooks", "messages"])
        for (name, page) in pages {
            #expect((page["title"] as? String)?.hasSuffix("BuzzBridge admin") == true, "\(name)")
            #expect(page["nav"] as? [String] == ["Sessions", "API keys", "Webhooks", "Messages"], "\(name)")
            // The stylesheet applied: the header is white, the page's buttons rounded.
            #expect(page["headerBackground"] as? String == "rgb(255, 255, 255)", "\(name)")
            #expect(page["buttonRadius"] as? String == "6px", "\(name)")
            #expect((page["errors"] as? [String])?.isEmpty == true, "\(name): \(page["errors"] ?? "")")
            let forms = page["postForms"] as? Int ?? -1
            #expect(forms > 0 && page["postFormsWithCSRF"] as? Int == forms, "\(name): every form carries the CSRF token")
            #expect((page["screenshot_bytes"] as? Int ?? 0) > 10_000, "\(name)")
            #expect((page["width"] as? Int ?? 99_999) <= 1280, "\(name): no horizontal overflow")
        }
        #expect((report["errors"] as? [String])?.isEmpty == true)

        let key = try #require(report["new_key"] as? String)
        #expect(key.hasPrefix("bzb_test_"))
        #expect(try await gateway.request(.GET, "/api/messages", bearer: key).status == 200)
        try await gateway.discard()
        try? FileManager.default.removeItem(atPath: shots)
    }
}
