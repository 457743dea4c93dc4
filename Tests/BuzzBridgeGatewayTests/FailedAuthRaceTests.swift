import BuzzBridgeGateway
import Foundation
import Testing

/// The failed-authentication limit holds under concurrency: an attempt takes its slot before
/// it is evaluated, so however many guesses arrive at once, at most the limit get an answer
/// other than 429 in a window (issue #15: 60 parallel wrong logins were all checked).
@Suite("Failed authentication: the limit cannot be raced")
struct FailedAuthRaceTests {
    @Test func sixtyParallelWrongPanelLoginsAreAtMostTenGuesses() async throws {
        let gateway = try await AdminPanelTests.start(security: SecurityConfiguration(failedAuthPerMinute: 10))
        let browser = AdminPanelTests.Browser(gateway: gateway)
        let form = try await browser.get("/admin/login")
        let token = try AdminPanelTests.Browser.csrf(in: form.text)
        let cookie = browser.cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ")
        let body = "_csrf=\(AdminPanelTests.Browser.encode(token))&password=wrong-password-guess"
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 1...60 {
                group.addTask {
                    try await gateway.request(
                        .POST, "/admin/login", bearer: nil, headers: [("Cookie", cookie), ("Content-Type", "application/x-www-form-urlencoded")],
                        rawBody: body
                    ).status
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 401 }.count == 10)
        #expect(statuses.filter { $0 == 429 }.count == 50)
        // The right password is refused too now: it is a guess like the others.
        #expect(try await browser.logIn().status == 429)
        try await gateway.discard()
    }

    @Test func aRightPasswordDoesNotUseUpTheBudget() async throws {
        let gateway = try await AdminPanelTests.start(security: SecurityConfiguration(failedAuthPerMinute: 2))
        for _ in 1...4 { #expect(try await AdminPanelTests.Browser(gateway: gateway).logIn().status == 303) }
        #expect(try await AdminPanelTests.Browser(gateway: gateway).logIn(password: "wrong password").status == 401)
        #expect(try await AdminPanelTests.Browser(gateway: gateway).logIn().status == 303)
        try await gateway.discard()
    }

    @Test func sixtyParallelWrongAPIKeysAreAtMostTenFailures() async throws {
        let gateway = try await ConfiguredGateway.start(security: SecurityConfiguration(failedAuthPerMinute: 10))
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for index in 1...60 {
                let guess = "bzb_test_" + String(format: "%032d", index)
                group.addTask { try await gateway.request(.GET, "/api/session/status", bearer: guess).status }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == 401 }.count == 10)
        #expect(statuses.filter { $0 == 429 }.count == 50)
        #expect(try await gateway.request(.GET, "/api/session/status", bearer: gateway.apiKey).status == 200)
        try await gateway.discard()
    }
}
