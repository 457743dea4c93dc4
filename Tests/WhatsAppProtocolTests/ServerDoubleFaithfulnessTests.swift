import Foundation
import TestSupport
import Testing

/// The WhatsApp server double that the live engine is tested against is itself checked here: its
/// refusals with a Python companion that makes the mistakes a real client never makes, then each
/// scenario with real whatsmeow (neonize) as the client. A flow the double gets wrong fails here
/// before any BuzzBridge test can pass against it.
@Suite("WhatsApp server double, proven with real whatsmeow (neonize)", .serialized)
struct ServerDoubleFaithfulnessTests {
    static let neonizeScenarios = [
        "qr_pairing_and_first_login", "tampered_pair_success_refused", "code_pairing", "relogin_presence_logout",
        "reconnects_after_515_503_and_cut", "prekeys_topped_up_when_low", "keepalive_pings_and_cut_during_iq",
        "device_removed_logs_out", "replaced_stops_reconnecting", "failure_on_login", "socks5_proxy_and_unknown_iq",
        "double_restart_keeps_devices", "message_between_two_companions", "phones_send_to_neonize",
        "neonize_sends_to_phones", "retry_receipts", "phones_send_media_to_neonize", "neonize_sends_media_to_phones", "lid_sender_without_sender_pn",
    ]

    @Test func theDoublesOwnRefusalsHold() async throws {
        let output = try await PythonPeer.run("test_double_self.py")
        #expect(output.status == 0, "\(output.text)")
    }

    @Test func everyNeonizeScenarioRunsHere() async throws {
        let listed = try await PythonPeer.check("test_double_with_neonize.py", arguments: ["--list"])
        #expect(String(decoding: listed, as: UTF8.self).split(separator: "\n").map(String.init) == Self.neonizeScenarios)
    }

    @Test(arguments: neonizeScenarios)
    func whatsmeowAgainstTheDouble(scenario: String) async throws {
        let output = try await PythonPeer.run("test_double_with_neonize.py", arguments: [scenario])
        #expect(output.status == 0, "\(output.text.suffix(4000))")
        #expect(output.text.contains("PASS \(scenario)"))
    }
}
