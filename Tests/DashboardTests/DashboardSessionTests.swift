import ControlPlane
import CyberdeskAPI
import Dashboard
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ServerTestSupport
import Testing

/// The dashboard's sessions and its guards on state changes, through its real router on the
/// real control plane (SQLite, a clock the test moves). The browser suite (Tests/dashboard)
/// covers the same pages in Chromium.
@Suite struct DashboardSessionTests {
    static let origin = "http://dash.test"

    /// Answers of the dashboard's router, with the session cookie kept between requests.
    struct Browser {
        let client: any TestClientProtocol
        var cookie: String?

        mutating func send(
            _ method: HTTPRequest.Method, _ path: String, form: [(String, String)]? = nil, origin: String? = origin
        ) async throws -> (status: Int, headers: HTTPFields, body: String) {
            var headers: HTTPFields = [:]
            if let cookie { headers[.cookie] = "cyberdesk_session=\(cookie)" }
            if let origin, method == .post { headers[.origin] = origin }
            var body: ByteBuffer?
            if let form {
                headers[.contentType] = "application/x-www-form-urlencoded"
                body = ByteBuffer(
                    string: form.map {
                        "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
                    }
                    .joined(separator: "&"))
            }
            let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: body)
            for value in response.headers[values: .setCookie] where value.hasPrefix("cyberdesk_session=") {
                let token = value.dropFirst("cyberdesk_session=".count).prefix { $0 != ";" }
                cookie = token.isEmpty ? nil : String(token)
            }
            return (Int(response.status.code), response.headers, String(buffer: response.body))
        }

        /// The CSRF token of a page's forms.
        mutating func token(from path: String) async throws -> String {
            let page = try await send(.get, path)
            let marker = "name=\"csrf\" value=\""
            let start = try #require(page.body.range(of: marker)).upperBound
            return String(page.body[start...].prefix { $0 != "\"" })
        }
    }

    /// `publicURL` names the dashboard's origin (the router test has no `Host`).
    func withDashboard(
        idleTimeout: Double = 3600, publicURL: String = origin,
        _ body: @Sendable @escaping (TestServer, inout Browser) async throws -> Void
    ) async throws {
        try await TestServer.with { server in
            let dashboard = try Dashboard(app: server.app, publicURL: publicURL, idleTimeout: idleTimeout)
            let application = Application(router: dashboard.router())
            try await application.test(.router) { client in
                var browser = Browser(client: client)
                try await body(server, &browser)
            }
        }
    }

    @Test func aWrongKeyIsRefusedAndTheRightOneOpensTheDashboardWithAnHttpOnlyStrictCookie() async throws {
        try await withDashboard { server, browser in
            let wrong = try await browser.send(.post, "/sign-in", form: [("api_key", "cdk_wrong")])
            #expect(wrong.status == 401)
            #expect(wrong.body.contains("not valid"))
            #expect(browser.cookie == nil)

            let right = try await browser.send(.post, "/sign-in", form: [("api_key", server.adminKey)])
            #expect(right.status == 303)
            let setCookie = try #require(right.headers[values: .setCookie].first)
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
            #expect(!setCookie.contains("Secure"))
            #expect(!setCookie.contains(server.adminKey))
            let overview = try await browser.send(.get, "/")
            #expect(overview.body.contains("<h1>Overview</h1>"))
            #expect(!overview.body.contains(server.adminKey))
            #expect(overview.headers[.contentSecurityPolicy]?.hasPrefix("default-src 'self'") == true)
        }
    }

    @Test func behindHttpsTheCookieIsSecure() async throws {
        try await withDashboard(publicURL: "https://dash.test/") { server, browser in
            let signIn = try await browser.send(
                .post, "/sign-in", form: [("api_key", server.adminKey)], origin: "https://dash.test")
            #expect(signIn.status == 303)
            #expect(signIn.headers[values: .setCookie].first?.contains("; Secure") == true)
        }
    }

    @Test func aSessionUnusedForItsIdleTimeSignsOut() async throws {
        try await withDashboard(idleTimeout: 600) { server, browser in
            _ = try await browser.send(.post, "/sign-in", form: [("api_key", server.adminKey)])
            server.clock.advance(by: 500)
            #expect(try await browser.send(.get, "/machines").status == 200)
            // Used 500 s in: the idle time counts from then.
            server.clock.advance(by: 500)
            #expect(try await browser.send(.get, "/machines").status == 200)
            server.clock.advance(by: 601)
            let expired = try await browser.send(.get, "/machines")
            #expect(expired.status == 303)
            #expect(expired.headers[.location] == "/?next=%2Fmachines")
        }
    }

    @Test func revokingTheKeyEndsItsSessionsAtOnce() async throws {
        try await withDashboard { server, browser in
            let (record, key) = try await server.key(organization: "default", name: "temporary")
            _ = try await browser.send(.post, "/sign-in", form: [("api_key", key)])
            #expect(try await browser.send(.get, "/machines").status == 200)
            _ = try await KeyAdmin(store: server.store).revokeKey(record.id)
            #expect(try await browser.send(.get, "/machines").status == 303)
        }
    }

    @Test func aStateChangeWithoutTheTokenOrFromAnotherOriginIsRefusedAndChangesNothing() async throws {
        try await withDashboard { server, browser in
            _ = try await browser.send(.post, "/sign-in", form: [("api_key", server.adminKey)])
            let token = try await browser.token(from: "/pools")
            let attempts: [([(String, String)], String?)] = [
                ([("name", "forged")], Self.origin),
                ([("name", "forged"), ("csrf", "not-the-token")], Self.origin),
                ([("name", "forged"), ("csrf", token)], "http://evil.test"),
                ([("name", "forged"), ("csrf", token)], nil),
            ]
            for (form, origin) in attempts {
                #expect(try await browser.send(.post, "/pools", form: form, origin: origin).status == 403)
            }
            let pools = try await server.get("/v1/pools").json()
            #expect(pools.objectValue?["total"]?.intValue == 0)
            let accepted = try await browser.send(.post, "/pools", form: [("name", "front desk"), ("csrf", token)])
            #expect(accepted.status == 303)
            #expect(try await server.get("/v1/pools").json().objectValue?["total"]?.intValue == 1)
        }
    }

    @Test func namesAreEscapedAndAnotherOrganizationsIDIsNotFound() async throws {
        try await withDashboard { server, browser in
            _ = try await browser.send(.post, "/sign-in", form: [("api_key", server.adminKey)])
            let created = try await server.post(
                "/v1/pools", .object(["name": "<script>alert(1)</script>", "description": "a \"quoted\" & <b>"]))
            let id = try #require(try created.json().objectValue?["id"]?.stringValue)
            let page = try await browser.send(.get, "/pools/\(id)")
            #expect(page.status == 200)
            #expect(!page.body.contains("<script>alert(1)</script>"))
            #expect(page.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))

            let (_, otherKey) = try await server.key(organization: "elsewhere")
            let theirs = try await server.post("/v1/pools", .object(["name": "theirs"]), as: .key(otherKey))
            let theirID = try #require(try theirs.json().objectValue?["id"]?.stringValue)
            let missing = try await browser.send(.get, "/pools/\(theirID)")
            #expect(missing.status == 404)
            #expect(!missing.body.contains("theirs"))
            let token = try await browser.token(from: "/pools")
            let delete = try await browser.send(.post, "/pools/\(theirID)/delete", form: [("csrf", token)])
            #expect(delete.status == 404)
            #expect(try await server.get("/v1/pools/\(theirID)", as: .key(otherKey)).status == 200)
        }
    }
}
