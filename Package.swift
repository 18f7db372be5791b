// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "cyberdesk",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cyberdesk-agent", targets: ["cyberdesk-agent"]),
        .executable(name: "cyberdesk-server", targets: ["cyberdesk-server"]),
        .library(name: "Desktop", targets: ["Desktop"]),
        .library(name: "CyberdeskAPI", targets: ["CyberdeskAPI"]),
        .library(name: "ControlPlane", targets: ["ControlPlane"]),
        .library(name: "Agent", targets: ["Agent"]),
        .library(name: "SystemdSupport", targets: ["SystemdSupport"]),
        .library(name: "Planner", targets: ["Planner"]),
        .library(name: "Recorder", targets: ["Recorder"]),
        .library(name: "Dashboard", targets: ["Dashboard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        // Already in the graph (Hummingbird, AsyncHTTPClient); named for the server benchmark's
        // lean HTTP/1.1 client.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        // The dashboard's server-rendered pages (DASHBOARD.md).
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // One C module per system library; macros and setjmp-based error handling live in shim.h.
        .systemLibrary(name: "CX11", pkgConfig: "x11 xtst xext xrandr xfixes"),
        // libxkbcommon (+ its X11 keymap loader and Xlib's XCB bridge): the recorder's keyboard
        // state machine and compose (dead keys), fed with recorded key events.
        .systemLibrary(name: "CXKBCommon", pkgConfig: "xkbcommon xkbcommon-x11 x11-xcb"),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng"),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib"),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3"),
        .target(
            name: "Desktop",
            dependencies: ["CX11", "CPNG", "CZlib", "CyberdeskAPI"]
        ),
        // sd_notify over NOTIFY_SOCKET (READY, STOPPING, watchdog) and journald-aware log
        // lines, without libsystemd; used by both daemons.
        .target(
            name: "SystemdSupport",
            dependencies: [
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // The machine-side daemon: identity, enrollment, long-poll loop, run executor,
        // secrets at type-time, transfers.
        .target(
            name: "Agent",
            dependencies: [
                "Desktop",
                "CyberdeskAPI",
                "CyberdeskRelease",
                "SystemdSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // `cyberdesk-agent record`: a person's demonstration captured with XRecord, keys
        // resolved with the live keymap, events coalesced into trajectory steps.
        .target(
            name: "Recorder",
            dependencies: ["Desktop", "CyberdeskAPI", "CX11", "CXKBCommon"]
        ),
        .executableTarget(
            name: "cyberdesk-agent",
            dependencies: [
                "Desktop",
                "Agent",
                "Recorder",
                "CyberdeskRelease",
                "SystemdSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The release version, one constant shared by both programs (`--version`) and the agent's
        // protocol client; scripts/package reads it from the source (docs/RELEASING.md).
        .target(name: "CyberdeskRelease"),
        // Codable types shared by server, agent and tests: the public v1 resources, the
        // trajectory step vocabulary and templates, JSON Schema validation of inputs.
        .target(name: "CyberdeskAPI"),
        // The control plane: HTTP app, auth, store (SQLite embedded, PostgreSQL for replicas),
        // scheduler, vault and attachment blobs.
        .target(
            name: "ControlPlane",
            dependencies: [
                "CyberdeskAPI",
                "Planner",
                // Checkpoint crops in trajectories are decoded when they are written.
                "CPNG",
                .product(name: "Hummingbird", package: "hummingbird"),
                // The HTTP client the model adapters call through (`/v1/provider-credentials/{slot}/validate`).
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                "CSQLite",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Prompt-driven runs (PLANNER.md): the model adapters (Anthropic Messages, OpenAI-compatible
        // Chat Completions) over AsyncHTTPClient, with their retry and timeout rules. No HTTP
        // server code, so it is testable alone.
        .target(
            name: "Planner",
            dependencies: [
                "CyberdeskAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // A stand-in for a model vendor's API in tests: speaks the Anthropic Messages and OpenAI
        // Chat Completions wire formats and finds its click targets by reading the pixels of
        // the screenshots it is sent (PLANNER.md, "Testing without a reachable model").
        .executableTarget(
            name: "scripted-model",
            dependencies: [
                "Desktop",
                "CyberdeskAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/ScriptedModel",
            exclude: ["README.md"]
        ),
        // The operators' web UI (DASHBOARD.md): Mustache templates, page controllers, sessions
        // and CSRF. Templates, CSS and JS are Swift string literals, so the relocated binary
        // needs no resource bundle. Pages call the v1 API in process (`InProcessAPI`), so
        // every business rule is the API's own.
        .target(
            name: "Dashboard",
            dependencies: [
                "ControlPlane",
                "CyberdeskAPI",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "cyberdesk-server",
            dependencies: [
                "ControlPlane",
                "Dashboard",
                "CyberdeskRelease",
                "SystemdSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // In-process measurements for scripts/bench-desktop (results in BENCHMARKS.md).
        .executableTarget(
            name: "desktop-bench",
            // TestSupport: the lagging `_NET_WM_PING` client the tests use (issue 14).
            dependencies: ["Desktop", "TestSupport"],
            path: "Benchmarks/DesktopBench"
        ),
        // The control plane under load for scripts/bench-server: the real server binary and
        // simulated null-desktop agents speaking the agent protocol over loopback HTTP.
        .executableTarget(
            name: "server-bench",
            dependencies: [
                "CyberdeskAPI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Benchmarks/ServerBench"
        ),
        // Helpers shared by the test targets: private Xvfb servers, X clients (xterm running
        // cat, an event-recording window), child processes, collected logs.
        .target(
            name: "TestSupport",
            dependencies: ["CX11", .product(name: "Logging", package: "swift-log")],
            path: "Tests/TestSupport"
        ),
        // The real control plane on an ephemeral port for API-level tests (ControlPlaneTests,
        // SecurityTests): a fresh data dir, a hand-moved clock, collected logs.
        .target(
            name: "ServerTestSupport",
            dependencies: [
                "ControlPlane",
                "CyberdeskAPI",
                "Planner",
                "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "Tests/ServerTestSupport"
        ),
        .testTarget(
            name: "DesktopTests",
            dependencies: ["Desktop", "CX11", "TestSupport"]
        ),
        .testTarget(
            name: "RecorderTests",
            dependencies: ["Recorder", "Desktop", "CyberdeskAPI", "CX11", "TestSupport"]
        ),
        .testTarget(
            name: "AgentTests",
            dependencies: ["Agent", "Desktop", "CyberdeskAPI", "ControlPlane", "CX11", "TestSupport"]
        ),
        // The whole system for a test: the control plane (in process, or the real
        // `cyberdesk-server` binary), real `cyberdesk-agent` processes, the public API as the
        // SDK speaks it. Shared by the end-to-end and fault suites.
        .target(
            name: "SystemTestSupport",
            dependencies: [
                "ControlPlane",
                "CyberdeskAPI",
                "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Tests/SystemTestSupport"
        ),
        // The whole system: a real server, the real agent binary, Xvfb and X clients.
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "ControlPlane",
                "CyberdeskAPI",
                "TestSupport",
                "SystemTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        // Faults a customer lives through: agents and the server killed, the network cut or
        // stalled, the server's disk full, a step failing; each test asserts what the API shows.
        .testTarget(
            name: "FaultTests",
            dependencies: [
                "CyberdeskAPI",
                "TestSupport",
                "SystemTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
        .testTarget(
            name: "SystemdSupportTests",
            dependencies: ["SystemdSupport"]
        ),
        .testTarget(
            name: "CyberdeskAPITests",
            dependencies: ["CyberdeskAPI", "TestSupport"]
        ),
        .testTarget(
            name: "ControlPlaneTests",
            dependencies: [
                "ControlPlane",
                "CyberdeskAPI",
                "Planner",
                "TestSupport",
                "ServerTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        // The model adapters: documented provider examples as fixtures, request bodies, retry
        // and timeout rules against a real local HTTP server, and the scripted model.
        .testTarget(
            name: "PlannerTests",
            dependencies: [
                "Planner",
                "CyberdeskAPI",
                "Desktop",
                "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            exclude: ["Fixtures"]
        ),
        // The dashboard's sessions, CSRF and Origin guards, escaping and isolation, through its
        // router on the real control plane (the browser suite is Tests/dashboard).
        .testTarget(
            name: "DashboardTests",
            dependencies: [
                "Dashboard",
                "ControlPlane",
                "CyberdeskAPI",
                "ServerTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        // Hostile input, organization isolation over every route, credentials, secret
        // hygiene and seeded fuzzing of the parsers that take outside input (SECURITY.md).
        .testTarget(
            name: "SecurityTests",
            dependencies: [
                "ControlPlane",
                "CyberdeskAPI",
                "Agent",
                "Desktop",
                "TestSupport",
                "ServerTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
