import Foundation
import SystemdSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension SystemTests {
    /// The notifier against a real `AF_UNIX` datagram socket, as systemd's notify socket is.
    @Suite("SystemdNotifier")
    struct SystemdNotifierTests {
        @Test("sends exactly the datagrams sd_notify would", arguments: ["socket file", "abstract socket"])
        func exactDatagrams(kind: String) async throws {
            let listener = try NotifyDatagramListener(abstract: kind == "abstract socket")
            let notifier = try SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.notifySocket])
            #expect(notifier.isEnabled)

            #expect(try notifier.ready(status: "connected to http://10.0.0.5:8080"))
            #expect(try await listener.receive() == "READY=1\nSTATUS=connected to http://10.0.0.5:8080")
            try notifier.ready()
            #expect(try await listener.receive() == "READY=1")
            try notifier.status("running run 3f2a, step 4")
            #expect(try await listener.receive() == "STATUS=running run 3f2a, step 4")
            try notifier.watchdog()
            #expect(try await listener.receive() == "WATCHDOG=1")
            try notifier.stopping()
            #expect(try await listener.receive() == "STOPPING=1")
            try notifier.stopping(status: "finishing step 4")
            #expect(try await listener.receive() == "STOPPING=1\nSTATUS=finishing step 4")
            try notifier.send([("EXTEND_TIMEOUT_USEC", "30000000")])
            #expect(try await listener.receive() == "EXTEND_TIMEOUT_USEC=30000000")
        }

        @Test("RELOADING=1 carries the CLOCK_MONOTONIC time of the reload")
        func reloadingCarriesMonotonicTime() async throws {
            let listener = try NotifyDatagramListener(abstract: false)
            let notifier = try SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.notifySocket])
            let before = Self.monotonicMicroseconds()
            try notifier.reloading()
            let after = Self.monotonicMicroseconds()

            let lines = try await listener.receive().split(separator: "\n")
            #expect(lines.count == 2)
            #expect(lines.first == "RELOADING=1")
            let stamp = try #require(lines.last.flatMap { UInt64($0.dropFirst("MONOTONIC_USEC=".count)) })
            #expect(lines.last?.hasPrefix("MONOTONIC_USEC=") == true)
            #expect((before...after).contains(stamp))
        }

        @Test("a status with line breaks is sent as one line, with its READY=1")
        func statusLineBreaks() async throws {
            let listener = try NotifyDatagramListener(abstract: false)
            let notifier = try SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.notifySocket])
            try notifier.ready(status: "server said:\nmachine unknown\r\n")
            #expect(try await listener.receive() == "READY=1\nSTATUS=server said: machine unknown")
        }

        @Test(
            "fields that would smuggle in another assignment are refused and nothing is sent",
            arguments: [("STATUS", "ok\nREADY=1"), ("READY=1\nSTATUS", "x"), ("", "1"), ("A=B", "1")])
        func refusesInjection(name: String, value: String) throws {
            let listener = try NotifyDatagramListener(abstract: false)
            let notifier = try SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.notifySocket])
            #expect(throws: SystemdNotifierError.invalidField("\(name)=\(value)")) {
                try notifier.send([(name, value)])
            }
            #expect(try listener.pending() == nil)
        }

        @Test("without NOTIFY_SOCKET (or with it empty) every call is a no-op", arguments: [nil, ""] as [String?])
        func noOpWithoutSocket(value: String?) throws {
            var environment = ["WATCHDOG_USEC": "60000000"]
            environment["NOTIFY_SOCKET"] = value
            let notifier = try SystemdNotifier(environment: environment)
            #expect(!notifier.isEnabled)
            #expect(notifier.watchdogInterval == nil)
            #expect(try notifier.ready(status: "ready") == false)
            #expect(try notifier.stopping() == false)
            #expect(try notifier.watchdog() == false)
            #expect(try notifier.reloading() == false)
        }

        /// NOTIFY_SOCKET values a notifier must refuse, with the error it must throw.
        static let unusableAddresses: [(String, SystemdNotifierError)] = {
            let longPath = "/" + String(repeating: "a", count: 108)
            let longName = "@" + String(repeating: "b", count: 107)
            return [
                ("run/notify", .unsupportedSocketAddress("run/notify")),
                ("vsock:2:1234", .unsupportedSocketAddress("vsock:2:1234")),
                (longPath, .socketAddressTooLong(longPath, limit: 107)),
                (longName, .socketAddressTooLong(longName, limit: 107)),
            ]
        }()

        @Test(
            "NOTIFY_SOCKET must be an absolute path or an abstract @name that fits sockaddr_un",
            arguments: unusableAddresses)
        func refusesUnusableAddresses(value: String, error: SystemdNotifierError) {
            #expect(throws: error) { try SystemdNotifier(environment: ["NOTIFY_SOCKET": value]) }
        }

        @Test("the longest names that fit are accepted")
        func longestAddresses() throws {
            let path = "/" + String(repeating: "a", count: 106)
            #expect(try NotifySocketAddress(parsing: path) == .path(path))
            let name = String(repeating: "b", count: 106)
            #expect(try NotifySocketAddress(parsing: "@" + name) == .abstract(name))
        }

        @Test("a socket that is gone is a thrown error that says why, not a crash")
        func missingSocket() throws {
            let notifier = try SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent-cyberdesk/notify"])
            let error = #expect(throws: SystemdNotifierError.self) { try notifier.ready() }
            #expect(error == .sendFailed(address: "/nonexistent-cyberdesk/notify", errno: ENOENT))
            #expect(
                error?.description
                    == "cannot notify systemd at '/nonexistent-cyberdesk/notify': No such file or directory (errno 2)")
        }

        @Test("WATCHDOG_USEC: the ping interval is half the watchdog period")
        func watchdogInterval() throws {
            let notifier = try SystemdNotifier(
                environment: ["NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "60000000"])
            #expect(notifier.watchdogPeriod == .seconds(60))
            #expect(notifier.watchdogInterval == .seconds(30))
        }

        @Test("WATCHDOG_PID: the watchdog applies only to the process it names")
        func watchdogProcess() throws {
            let base = ["NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "3000000"]
            let mine = try SystemdNotifier(environment: base.merging(["WATCHDOG_PID": "\(getpid())"]) { $1 })
            #expect(mine.watchdogInterval == .milliseconds(1500))
            let explicit = try SystemdNotifier(
                environment: base.merging(["WATCHDOG_PID": "4242"]) { $1 }, processID: 4242)
            #expect(explicit.watchdogInterval == .milliseconds(1500))
            let parents = try SystemdNotifier(environment: base.merging(["WATCHDOG_PID": "1"]) { $1 })
            #expect(parents.watchdogInterval == nil)
            #expect(parents.isEnabled)
        }

        @Test(
            "malformed watchdog variables are reported at startup",
            arguments: [
                ("WATCHDOG_USEC", "abc"), ("WATCHDOG_USEC", ""), ("WATCHDOG_USEC", "0"), ("WATCHDOG_USEC", "-5"),
                ("WATCHDOG_PID", "x"), ("WATCHDOG_PID", "0"),
            ])
        func malformedWatchdog(name: String, value: String) {
            var environment = ["NOTIFY_SOCKET": "/run/systemd/notify", "WATCHDOG_USEC": "1000000"]
            environment[name] = value
            #expect(throws: SystemdNotifierError.invalidWatchdogVariable(name: name, value: value)) {
                try SystemdNotifier(environment: environment)
            }
        }

        private static func monotonicMicroseconds() -> UInt64 {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
        }
    }
}
