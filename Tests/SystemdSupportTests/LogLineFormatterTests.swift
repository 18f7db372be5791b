import Logging
import SystemdSupport
import Testing

extension SystemTests {
    /// The exact text of log lines per output.
    @Suite("LogLineFormatter")
    struct LogLineFormatterTests {
        let journal = LogLineFormatter(output: .journal)
        /// 2025-11-29T09:45:00.123456789Z
        let time = LogTimestamp(seconds: 1_764_409_500, nanoseconds: 123_456_789)

        @Test(
            "journal lines carry the syslog priority of the level",
            arguments: [
                (Logger.Level.trace, 7), (.debug, 7), (.info, 6), (.notice, 5), (.warning, 4), (.error, 3),
                (.critical, 2),
            ])
        func journalPriority(level: Logger.Level, priority: Int) {
            let line = journal.format(level: level, message: "run dispatched", metadata: ["run.id": "3f2a"], time: time)
            #expect(line == "<\(priority)>run dispatched run.id=3f2a")
        }

        @Test("journal: no time, no colours, metadata sorted by key")
        func journalLine() {
            let line = journal.format(
                level: .info, message: "run dispatched",
                metadata: ["step.index": "4", "run.id": "3f2a", "attempt": .stringConvertible(2)], time: time)
            #expect(line == "<6>run dispatched attempt=2 run.id=3f2a step.index=4")
        }

        @Test("an event is one line: line breaks and escape sequences in a message are written out")
        func escapesMessage() {
            let line = journal.format(
                level: .error, message: "server said:\nmachine unknown\r\n\u{1B}[2J\tdone", metadata: [:], time: time)
            #expect(line == "<3>server said:\\nmachine unknown\\r\\n\\u{1B}[2J\tdone")
            #expect(!line.contains("\n"))
        }

        @Test(
            "values are quoted when they hold a space, =, a quote or a control character",
            arguments: [
                ("plain", "plain"),
                ("/home/ana/CyberdeskTransfers/in.csv", "/home/ana/CyberdeskTransfers/in.csv"),
                (#"C:\dir"#, #"C:\dir"#),
                ("", #""""#),
                ("two words", #""two words""#),
                ("a=b", #""a=b""#),
                (#"say "hi""#, #""say \"hi\"""#),
                (#"back\slash and space"#, #""back\\slash and space""#),
                ("two\nlines", #""two\nlines""#),
                ("tab\there", #""tab\there""#),
            ])
        func quoting(value: String, expected: String) {
            let line = journal.format(level: .info, message: "m", metadata: ["k": .string(value)], time: time)
            #expect(line == "<6>m k=\(expected)")
        }

        @Test("keys cannot break the line's structure")
        func keys() {
            let line = journal.format(level: .info, message: "m", metadata: ["bad key=x": "v"], time: time)
            #expect(line == "<6>m bad_key_x=v")
        }

        @Test("plain: ISO 8601 UTC time with milliseconds, level, message, metadata")
        func plainLine() {
            let plain = LogLineFormatter(output: .plain)
            let line = plain.format(
                level: .warning, message: "poll failed", metadata: ["http.status": "503"], time: time)
            #expect(line == "2025-11-29T09:45:00.123Z WARNING poll failed http.status=503")
            #expect(
                plain.format(level: .info, message: "ready", metadata: [:], time: time)
                    == "2025-11-29T09:45:00.123Z INFO ready")
        }

        @Test("terminal without colours: local time of day, padded level, message, metadata")
        func terminalPlainLine() throws {
            let terminal = LogLineFormatter(output: .terminal(colors: false))
            let clock = time.localTimeOfDay
            #expect(clock.wholeMatch(of: /\d\d:\d\d:\d\d\.123/) != nil)
            #expect(
                terminal.format(level: .info, message: "run dispatched", metadata: ["run.id": "3f2a"], time: time)
                    == "\(clock) INFO    run dispatched run.id=3f2a")
            #expect(
                terminal.format(level: .critical, message: "display lost", metadata: [:], time: time)
                    == "\(clock) CRITICAL display lost")
        }

        @Test("terminal with colours: dim time and metadata, the level in its colour")
        func terminalColouredLine() {
            let terminal = LogLineFormatter(output: .terminal(colors: true))
            let clock = time.localTimeOfDay
            let line = terminal.format(level: .error, message: "step failed", metadata: ["step.index": "4"], time: time)
            #expect(
                line
                    == "\u{1B}[2m\(clock)\u{1B}[0m \u{1B}[31mERROR\u{1B}[0m   step failed\u{1B}[2m step.index=4\u{1B}[0m"
            )
            // Each level has its own SGR code: "\u{1B}[31" in front of ERROR.
            let colours = Set(
                Logger.Level.allCases.map {
                    terminal.format(level: $0, message: "m", metadata: [:], time: time).split(separator: " ")[1]
                        .prefix { $0 != "m" }
                })
            #expect(colours.count == Logger.Level.allCases.count)
        }
    }
}
