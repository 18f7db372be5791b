import ControlPlane
import CyberdeskAPI
import Foundation
import HTTPTypes
import Hummingbird
import ServerTestSupport
import Testing

/// Organization isolation, generated from the router: every route the server registers must
/// have a probe below (the test fails on a route without one, and on a probe for a route
/// that no longer exists). Each probe is sent by a second organization — with its API key,
/// or its machine's credential for `/v1/agent/*` — naming the first organization's records,
/// and must be refused with 404 (or see nothing of them), and change nothing of them.
@Suite("Organization isolation on every route")
struct OrganizationIsolationTests {
    /// What the second organization must get.
    enum Expectation: Sendable {
        /// 404 with a detail: the record does not exist for this caller.
        case notFound
        /// A list or an own resource: 2xx, and no id of the first organization in the body.
        case seesNothing
        /// A link-only route (signed URLs): refused without a valid signature.
        case forbidden
    }

    enum Caller: Sendable { case apiKey, machine, none }

    struct Probe: Sendable {
        var path: String
        var json: JSONValue? = nil
        var bytes: [UInt8]? = nil
        var headers: [String: String] = [:]
        var caller: Caller = .apiKey
        var expect: Expectation = .notFound
    }

    /// Route (as the router describes it) → how to attack it. Placeholders in `{…}` are the
    /// first organization's records, `{b.…}` the second's.
    static let probes: [String: [Probe]] = {
        let file = Data("hello".utf8).base64EncodedString()
        var table: [String: [Probe]] = [
            "GET /health": [Probe(path: "/health", caller: .none, expect: .seesNothing)],
            "GET /v1/health": [Probe(path: "/v1/health", caller: .none, expect: .seesNothing)],
            "GET /v1/health/db": [Probe(path: "/v1/health/db", caller: .none, expect: .seesNothing)],
            "GET /health/db": [Probe(path: "/health/db", caller: .none, expect: .seesNothing)],
            "GET /health/live": [Probe(path: "/health/live", caller: .none, expect: .seesNothing)],
            "GET /health/ready": [Probe(path: "/health/ready", caller: .none, expect: .seesNothing)],

            "POST /v1/workflows": [Probe(path: "/v1/workflows", json: ["main_prompt": "mine"], expect: .seesNothing)],
            "GET /v1/workflows": [Probe(path: "/v1/workflows?search=lookup", expect: .seesNothing)],
            "GET /v1/workflows/{id}": [Probe(path: "/v1/workflows/{workflow}")],
            "PATCH /v1/workflows/{id}": [Probe(path: "/v1/workflows/{workflow}", json: ["name": "stolen"])],
            "DELETE /v1/workflows/{id}": [Probe(path: "/v1/workflows/{workflow}")],
            "GET /v1/workflows/{id}/latest-trajectory": [Probe(path: "/v1/workflows/{workflow}/latest-trajectory")],
            "GET /v1/workflows/{id}/versions": [Probe(path: "/v1/workflows/{workflow}/versions")],
            "POST /v1/workflows/{id}/duplicate": [Probe(path: "/v1/workflows/{workflow}/duplicate")],

            "POST /v1/trajectories": [
                Probe(
                    path: "/v1/trajectories",
                    json: [
                        "workflow_id": "{workflow}", "trajectory_data": [["func_name": "screenshot"]],
                        "dimensions": ["width": 800, "height": 600],
                    ]),
                Probe(
                    path: "/v1/trajectories",
                    json: [
                        "workflow_id": "{b.workflow}", "run_id": "{run}",
                        "trajectory_data": [["func_name": "screenshot"]], "dimensions": ["width": 800, "height": 600],
                    ]),
            ],
            "GET /v1/trajectories": [Probe(path: "/v1/trajectories?workflow_id={workflow}", expect: .seesNothing)],
            "GET /v1/trajectories/{id}": [Probe(path: "/v1/trajectories/{trajectory}")],
            "PATCH /v1/trajectories/{id}": [Probe(path: "/v1/trajectories/{trajectory}", json: ["is_main": true])],
            "DELETE /v1/trajectories/{id}": [Probe(path: "/v1/trajectories/{trajectory}")],
            "POST /v1/trajectories/{id}/duplicate": [Probe(path: "/v1/trajectories/{trajectory}/duplicate")],

            // The same fingerprint in another organization is another machine.
            "POST /v1/machines": [
                Probe(
                    path: "/v1/machines", json: ["fingerprint": "{fingerprint}", "unkey_key_id": "u"],
                    expect: .seesNothing)
            ],
            "GET /v1/machines": [Probe(path: "/v1/machines?pool_id={pool}", expect: .seesNothing)],
            "GET /v1/machines/{id}": [Probe(path: "/v1/machines/{machine}")],
            "PATCH /v1/machines/{id}": [Probe(path: "/v1/machines/{machine}", json: ["name": "stolen"])],
            "DELETE /v1/machines/{id}": [Probe(path: "/v1/machines/{machine}")],
            "GET /v1/machines/{id}/pools": [Probe(path: "/v1/machines/{machine}/pools")],
            "PUT /v1/machines/{id}/pools": [
                Probe(path: "/v1/machines/{machine}/pools", json: ["pool_ids": ["{b.pool}"]]),
                Probe(path: "/v1/machines/{b.machine}/pools", json: ["pool_ids": ["{pool}"]]),
            ],

            "POST /v1/pools": [Probe(path: "/v1/pools", json: ["name": "billing"], expect: .seesNothing)],
            "GET /v1/pools": [Probe(path: "/v1/pools", expect: .seesNothing)],
            "GET /v1/pools/{id}": [Probe(path: "/v1/pools/{pool}?include_machines=true")],
            "PATCH /v1/pools/{id}": [Probe(path: "/v1/pools/{pool}", json: ["name": "stolen"])],
            "DELETE /v1/pools/{id}": [Probe(path: "/v1/pools/{pool}")],
            "POST /v1/pools/{id}/machines": [
                Probe(path: "/v1/pools/{pool}/machines", json: ["machine_ids": ["{b.machine}"]]),
                Probe(path: "/v1/pools/{b.pool}/machines", json: ["machine_ids": ["{machine}"]]),
            ],
            "DELETE /v1/pools/{id}/machines": [
                Probe(path: "/v1/pools/{pool}/machines", json: ["machine_ids": ["{machine}"]])
            ],

            "POST /v1/connections": [
                Probe(path: "/v1/connections", json: ["websocket_id": "w", "machine_id": "{machine}"])
            ],
            "GET /v1/connections": [Probe(path: "/v1/connections?machine_id={machine}", expect: .seesNothing)],
            "GET /v1/connections/{id}": [Probe(path: "/v1/connections/{connection}")],
            "PATCH /v1/connections/{id}": [
                Probe(path: "/v1/connections/{connection}", json: ["status": "disconnected"])
            ],
            "DELETE /v1/connections/{id}": [Probe(path: "/v1/connections/{connection}")],

            "POST /v1/runs": [
                Probe(path: "/v1/runs", json: ["workflow_id": "{workflow}"]),
                Probe(path: "/v1/runs", json: ["workflow_id": "{b.workflow}", "machine_id": "{machine}"]),
                Probe(path: "/v1/runs", json: ["workflow_id": "{b.workflow}", "pool_ids": ["{pool}"]]),
                Probe(path: "/v1/runs", json: ["workflow_id": "{b.workflow}", "session_id": "{session}"]),
                Probe(
                    path: "/v1/runs",
                    json: [
                        "workflow_id": "{workflow}", "file_inputs": [["filename": "a.txt", "content": .string(file)]],
                    ]),
            ],
            "POST /v1/runs/bulk": [
                Probe(path: "/v1/runs/bulk", json: ["workflow_id": "{workflow}", "count": 2]),
                Probe(
                    path: "/v1/runs/bulk", json: ["workflow_id": "{b.workflow}", "count": 2, "machine_id": "{machine}"]),
            ],
            "POST /v1/runs/chain": [
                Probe(path: "/v1/runs/chain", json: ["steps": [["workflow_id": "{workflow}"]]]),
                Probe(
                    path: "/v1/runs/chain",
                    json: ["steps": [["workflow_id": "{b.workflow}"]], "machine_id": "{machine}"]),
                Probe(
                    path: "/v1/runs/chain",
                    json: ["steps": [["workflow_id": "{b.workflow}"]], "session_id": "{session}"]),
            ],
            "GET /v1/runs": [
                Probe(path: "/v1/runs?workflow_id={workflow}", expect: .seesNothing),
                Probe(path: "/v1/runs?machine_id={machine}&session_id={session}", expect: .seesNothing),
            ],
            "GET /v1/runs/{id}": [Probe(path: "/v1/runs/{run}")],
            "PATCH /v1/runs/{id}": [Probe(path: "/v1/runs/{run}", json: ["status": "cancelled"])],
            "DELETE /v1/runs/{id}": [Probe(path: "/v1/runs/{run}")],
            "GET /v1/runs/{id}/image/signed-url": [Probe(path: "/v1/runs/{run}/image/signed-url?image_url={image}")],
            "POST /v1/runs/{id}/retry": [Probe(path: "/v1/runs/{run}/retry", json: [:])],
            "GET /v1/runs/{id}/trajectory": [Probe(path: "/v1/runs/{run}/trajectory")],
            "POST /v1/runs/{id}/generate-trajectory": [Probe(path: "/v1/runs/{run}/generate-trajectory")],

            "GET /v1/run-attachments": [Probe(path: "/v1/run-attachments?run_id={run}", expect: .seesNothing)],
            "POST /v1/run-attachments": [
                Probe(
                    path: "/v1/run-attachments",
                    json: [
                        "run_id": "{run}", "filename": "x.txt", "content": .string(file), "attachment_type": "input",
                        "content_type": "text/plain",
                    ])
            ],
            "GET /v1/run-attachments/{id}": [Probe(path: "/v1/run-attachments/{attachment}")],
            "PUT /v1/run-attachments/{id}": [
                Probe(path: "/v1/run-attachments/{attachment}", json: ["expires_at": "2020-01-01T00:00:00Z"])
            ],
            "DELETE /v1/run-attachments/{id}": [Probe(path: "/v1/run-attachments/{attachment}")],
            "GET /v1/run-attachments/{id}/download-url": [Probe(path: "/v1/run-attachments/{attachment}/download-url")],
            "GET /v1/run-attachments/{id}/download": [
                Probe(path: "/v1/run-attachments/{attachment}/download"),
                // A valid link of the second organization's own attachment does not open the first's.
                Probe(path: "{b.attachment-link|attachment}", caller: .none, expect: .forbidden),
            ],
            "GET /v1/run-images/{run_id}/{image_id}": [
                Probe(path: "/v1/run-images/{run}/{image}", expect: .forbidden),
                Probe(path: "{b.image-link|run}", caller: .none, expect: .forbidden),
            ],

            "GET /v1/model-configurations": [Probe(path: "/v1/model-configurations", expect: .seesNothing)],
            "POST /v1/model-configurations": [
                Probe(
                    path: "/v1/model-configurations", json: ["name": "m", "provider": "openai", "model": "gpt-4o"],
                    expect: .seesNothing)
            ],
            "GET /v1/model-configurations/{id}": [Probe(path: "/v1/model-configurations/{model}")],
            "PATCH /v1/model-configurations/{id}": [
                Probe(path: "/v1/model-configurations/{model}", json: ["clear_api_key": true])
            ],
            "DELETE /v1/model-configurations/{id}": [Probe(path: "/v1/model-configurations/{model}")],
            "GET /v1/provider-credentials": [Probe(path: "/v1/provider-credentials", expect: .seesNothing)],
            // Routes run in name order: DELETE and validate find no credential of the caller's
            // own yet; PUT then sets one in its own organization only.
            "DELETE /v1/provider-credentials/{slot}": [Probe(path: "/v1/provider-credentials/anthropic")],
            "POST /v1/provider-credentials/{slot}/validate": [
                Probe(path: "/v1/provider-credentials/anthropic/validate?model_configuration_id={model}")
            ],
            "PUT /v1/provider-credentials/{slot}": [
                Probe(path: "/v1/provider-credentials/anthropic", json: ["api_key": "sk-other"], expect: .seesNothing)
            ],
            // The same bytes as the owner's image: stored once by digest, so no blob changes.
            "POST /v1/workflows/prompt-image": [
                Probe(
                    path: "/v1/workflows/prompt-image",
                    bytes: IsolationWorld.multipart(IsolationWorld.promptImage).body,
                    headers: ["Content-Type": IsolationWorld.multipart(IsolationWorld.promptImage).contentType],
                    expect: .seesNothing)
            ],
            "GET /v1/workflows/prompt-images": [Probe(path: "/v1/workflows/prompt-images", expect: .seesNothing)],
            "GET /v1/workflows/prompt-image/signed-url": [
                Probe(path: "/v1/workflows/prompt-image/signed-url?path={image-path}")
            ],
            "DELETE /v1/workflows/prompt-image": [Probe(path: "/v1/workflows/prompt-image?path={image-path}")],
            "GET /v1/workflow-prompt-images/{id}": [
                Probe(path: "/v1/workflow-prompt-images/{prompt-image}", expect: .forbidden),
                Probe(path: "{b.prompt-image-link|prompt-image}", caller: .none, expect: .forbidden),
            ],

            // The machine side, with the second organization's machine credential and even
            // the first machine's lease token.
            "POST /v1/agent/register": [
                Probe(
                    path: "/v1/agent/register", json: ["fingerprint": "{fingerprint}", "pools": ["billing"]],
                    expect: .seesNothing)
            ],
            "POST /v1/agent/connect": [
                Probe(path: "/v1/agent/connect", json: [:], caller: .machine, expect: .seesNothing)
            ],
            "GET /v1/agent/poll": [Probe(path: "/v1/agent/poll?connection_id={connection}&wait=0", caller: .machine)],
            "POST /v1/agent/disconnect": [Probe(path: "/v1/agent/disconnect", caller: .machine, expect: .seesNothing)],
            "POST /v1/agent/runs/{id}/claim": [
                Probe(path: "/v1/agent/runs/{run}/claim", caller: .machine),
                Probe(path: "/v1/agent/runs/{waiting-run}/claim", caller: .machine),
            ],
            "POST /v1/agent/runs/{id}/start": [
                Probe(path: "/v1/agent/runs/{run}/start", json: ["lease_token": "{lease}"], caller: .machine)
            ],
            "POST /v1/agent/runs/{id}/heartbeat": [
                Probe(path: "/v1/agent/runs/{run}/heartbeat", json: ["lease_token": "{lease}"], caller: .machine)
            ],
            "POST /v1/agent/runs/{id}/secrets/{name}": [
                Probe(path: "/v1/agent/runs/{run}/secrets/password", json: ["lease_token": "{lease}"], caller: .machine)
            ],
            "POST /v1/agent/runs/{id}/same-screen": [
                Probe(
                    path: "/v1/agent/runs/{run}/same-screen",
                    json: [
                        "lease_token": "{lease}", "step_index": 0, "func_name": "click", "recorded_image_id": "x",
                        "region_image_id": "x", "screen_image_id": "x",
                        "image_size": ["width": 1280, "height": 800], "events": [["func_name": "stolen"]],
                    ], caller: .machine)
            ],
            "POST /v1/agent/runs/{id}/plan": [
                Probe(
                    path: "/v1/agent/runs/{run}/plan",
                    json: [
                        "lease_token": "{lease}", "sequence": 1, "image_id": "x",
                        "screen": ["width": 1280, "height": 800], "image_size": ["width": 1280, "height": 800],
                        "results": [], "output_data": [:], "events": [["func_name": "stolen"]],
                    ], caller: .machine)
            ],
            "POST /v1/agent/runs/{id}/events": [
                Probe(
                    path: "/v1/agent/runs/{run}/events",
                    json: ["lease_token": "{lease}", "events": [["func_name": "stolen"]]], caller: .machine)
            ],
            "POST /v1/agent/runs/{id}/images": [
                Probe(
                    path: "/v1/agent/runs/{run}/images", bytes: Array("png".utf8),
                    headers: ["X-Lease-Token": "{lease}", "Content-Type": "image/png"], caller: .machine)
            ],
            "POST /v1/agent/runs/{id}/attachments": [
                Probe(
                    path: "/v1/agent/runs/{run}/attachments?filename=x.txt", bytes: Array("x".utf8),
                    headers: ["X-Lease-Token": "{lease}", "Content-Type": "text/plain"], caller: .machine)
            ],
            "POST /v1/agent/runs/{id}/complete": [
                Probe(
                    path: "/v1/agent/runs/{run}/complete", json: ["lease_token": "{lease}", "status": "success"],
                    caller: .machine)
            ],
            "GET /v1/agent/attachments/{id}/content": [
                Probe(path: "/v1/agent/attachments/{attachment}/content", caller: .machine)
            ],
            "POST /v1/agent/commands/{id}/result": [
                Probe(path: "/v1/agent/commands/{command}/result", json: ["x": 1], caller: .machine)
            ],
        ]
        return table
    }()

    /// The probes of a route. Computer actions all take the machine in the path, so each one
    /// gets the same probe; every other route must be in the table.
    static func probes(for route: String) -> [Probe]? {
        if let listed = probes[route] { return listed }
        let computer = "/v1/computer/{machine_id}/"
        guard let range = route.range(of: computer) else { return nil }
        let body: JSONValue? =
            route.hasPrefix("POST") ? ["text": "x", "x": 1, "y": 1, "path": "a", "command": "id", "content": ""] : nil
        return [Probe(path: "/v1/computer/{machine}/" + route[range.upperBound...], json: body)]
    }

    @Test("the probe table covers exactly the router's routes")
    func everyRouteHasAProbe() async throws {
        try await TestServer.with { server in
            let routes = Set(buildRouter(server.app).routes.map { "\($0.method) \($0.path)" })
            #expect(routes.count > 60, "the router lists its routes: \(routes.sorted())")
            let missing = routes.filter { Self.probes(for: $0) == nil }.sorted()
            let stale = Set(Self.probes.keys).subtracting(routes).sorted()
            #expect(missing.isEmpty, "routes without an isolation probe: \(missing)")
            #expect(stale.isEmpty, "probes for routes that do not exist: \(stale)")
        }
    }

    @Test("another organization's ids are 404 on every route, and nothing of the owner changes")
    func everyRouteIsIsolated() async throws {
        try await TestServer.with { server in
            let world = try await IsolationWorld.build(server)
            let before = try await StoreSnapshot.take(server, ignoringOrganization: world.otherOrganizationID)
            #expect(before.rowCount > 15 && !before.blobs.isEmpty, "the owner has data: \(before)")

            // Agent routes last: registering in the other organization creates its own pool
            // and machine, which the public API probes create first with the same names.
            let routes = buildRouter(server.app).routes.map { "\($0.method) \($0.path)" }.sorted {
                ($0.contains("/v1/agent/") ? 1 : 0, $0) < ($1.contains("/v1/agent/") ? 1 : 0, $1)
            }
            for route in routes {
                let probes = try #require(Self.probes(for: route), "no probe for \(route)")
                for probe in probes {
                    let method = HTTPRequest.Method(rawValue: String(route.prefix { $0 != " " }))!
                    let path = world.fill(probe.path)
                    let credential: Credential =
                        switch probe.caller {
                        case .apiKey: .key(world.otherKey)
                        case .machine: world.otherMachine.credential
                        case .none: .none
                        }
                    let response = try await server.request(
                        method, path, as: credential, json: probe.json.map(world.fill), bytes: probe.bytes,
                        headers: probe.headers.mapValues(world.fill))
                    let context = "\(route) as \(probe.caller) → \(path): \(response)"
                    switch probe.expect {
                    case .notFound:
                        #expect(response.status == 404, "\(context)")
                        #expect(response.detail?.isEmpty == false, "\(context)")
                    case .forbidden:
                        #expect(response.status == 403, "\(context)")
                    case .seesNothing:
                        #expect((200..<300).contains(response.status), "\(context)")
                    }
                    // A refusal may repeat what the caller sent; nothing else of the owner may show.
                    let sent =
                        path + (probe.json.map { world.fill($0).compactJSON } ?? "")
                        + probe.headers.values.map(world.fill).joined()
                    for (name, id) in world.ownerIDs where response.text.contains(id) && !sent.contains(id) {
                        Issue.record("the answer shows the owner's \(name) \(id): \(context)")
                    }
                }
            }

            let after = try await StoreSnapshot.take(server, ignoringOrganization: world.otherOrganizationID)
            #expect(after == before, "the owner's data changed:\n\(after.difference(from: before))")
            // The owner still has everything, through its own key.
            #expect(try await server.get("/v1/runs/\(world.ids["run"]!)").status == 200)
            #expect(try await server.get("/v1/machines/\(world.ids["machine"]!)").status == 200)
        }
    }
}
