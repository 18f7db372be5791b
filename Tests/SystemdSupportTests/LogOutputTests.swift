import Foundation
import SystemdSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension SystemTests {
    /// Output detection with real descriptors: a temporary file and a pipe stand in for the
    /// journal's stream socket (all that matters is fstat's device and inode), a
    /// pseudoterminal for the terminal.
    @Suite("LogOutput")
    struct LogOutputTests {
        @Test("journal when JOURNAL_STREAM names stderr's device and inode (a file)")
        func journalFile() throws {
            let fd = try Self.temporaryFile()
            defer { close(fd) }
            #expect(LogOutput.detect(environment: ["JOURNAL_STREAM": try Self.identity(fd)], stderrFD: fd) == .journal)
        }

        @Test("journal when JOURNAL_STREAM names stderr's device and inode (a pipe)")
        func journalPipe() throws {
            var ends: [Int32] = [0, 0]
            #expect(pipe(&ends) == 0)
            defer { for end in ends { close(end) } }
            #expect(
                LogOutput.detect(environment: ["JOURNAL_STREAM": try Self.identity(ends[1])], stderrFD: ends[1])
                    == .journal
            )
        }

        @Test("not the journal when JOURNAL_STREAM was inherited by a redirected stderr")
        func inheritedJournalStream() throws {
            let journal = try Self.temporaryFile()
            let redirected = try Self.temporaryFile()
            defer {
                close(journal)
                close(redirected)
            }
            let environment = ["JOURNAL_STREAM": try Self.identity(journal)]
            #expect(LogOutput.detect(environment: environment, stderrFD: redirected) == .plain)
        }

        @Test("a malformed JOURNAL_STREAM is ignored", arguments: ["", "12", "a:b", "1:2:3", ":5", "-1:-1"])
        func malformedJournalStream(value: String) throws {
            let fd = try Self.temporaryFile()
            defer { close(fd) }
            #expect(LogOutput.detect(environment: ["JOURNAL_STREAM": value], stderrFD: fd) == .plain)
        }

        @Test(
            "a terminal gets colours unless NO_COLOR is set or TERM is dumb",
            arguments: [
                ([:], true), (["TERM": "xterm-256color"], true), (["NO_COLOR": "1"], false), (["NO_COLOR": ""], true),
                (["TERM": "dumb"], false),
            ] as [([String: String], Bool)])
        func terminal(environment: [String: String], colors: Bool) throws {
            let pty = try TestPseudoterminal()
            #expect(LogOutput.detect(environment: environment, stderrFD: pty.terminal) == .terminal(colors: colors))
        }

        @Test("plain for a file or pipe without JOURNAL_STREAM")
        func plain() throws {
            let fd = try Self.temporaryFile()
            defer { close(fd) }
            #expect(LogOutput.detect(environment: [:], stderrFD: fd) == .plain)
        }

        /// A descriptor on an unlinked temporary file.
        static func temporaryFile() throws -> Int32 {
            var template = Array("/tmp/cyberdesk-log-XXXXXX".utf8CString)
            let fd = mkstemp(&template)
            guard fd >= 0 else { throw SystemTestError("mkstemp: \(String(cString: strerror(errno)))") }
            unlink(template)
            return fd
        }

        /// `DEVICE:INODE` of `fd`, the way systemd writes JOURNAL_STREAM.
        static func identity(_ fd: Int32) throws -> String {
            var status = stat()
            guard fstat(fd, &status) == 0 else { throw SystemTestError("fstat: \(String(cString: strerror(errno)))") }
            return "\(status.st_dev):\(status.st_ino)"
        }
    }
}
