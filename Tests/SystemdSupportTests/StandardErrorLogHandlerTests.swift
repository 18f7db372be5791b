import Foundation
import Logging
import SystemdSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

extension SystemTests {
    /// The handler behind a real `Logger`, writing to real descriptors.
    @Suite("StandardErrorLogHandler")
    struct StandardErrorLogHandlerTests {
        struct UploadRejected: Error, CustomStringConvertible {
            var description: String { "server answered 413" }
        }

        @Test("under systemd: detected from JOURNAL_STREAM, lines are `<N>message key=value`")
        func journalThroughLogger() throws {
            let (read, write) = try Self.pipe()
            defer {
                close(read)
                close(write)
            }
            var status = stat()
            fstat(write, &status)
            let output = LogOutput.detect(
                environment: ["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino)"], stderrFD: write)
            let logger = Logger(label: "cyberdesk-agent") { _ in
                StandardErrorLogHandler(output: output, fileDescriptor: write, logLevel: .info)
            }
            logger.info("run dispatched", metadata: ["run.id": "3f2a"])
            logger.debug("below the level")
            logger.warning("poll slow", metadata: ["elapsed": "31 s"])
            #expect(try Self.available(read) == "<6>run dispatched run.id=3f2a\n<4>poll slow elapsed=\"31 s\"\n")
        }

        @Test(
            "the handler's metadata, the provider's and the call's are merged, the call's winning; errors are recorded")
        func mergedMetadata() throws {
            let (read, write) = try Self.pipe()
            defer {
                close(read)
                close(write)
            }
            let provider = Logger.MetadataProvider { ["task": "poll", "run.id": "from-provider"] }
            var logger = Logger(label: "cyberdesk-agent") { _ in
                StandardErrorLogHandler(
                    output: .journal, fileDescriptor: write, logLevel: .info, metadataProvider: provider)
            }
            logger[metadataKey: "machine.id"] = "m-1"
            logger.error("upload failed", error: UploadRejected(), metadata: ["run.id": "3f2a"])
            let expected =
                "<3>upload failed error.message=\"server answered 413\" "
                + "error.type=SystemdSupportTests.SystemTests.StandardErrorLogHandlerTests.UploadRejected machine.id=m-1 run.id=3f2a task=poll\n"
            #expect(try Self.available(read) == expected)
        }

        @Test("in a terminal: coloured lines on the tty")
        func terminal() async throws {
            let pty = try TestPseudoterminal()
            let output = LogOutput.detect(environment: ["TERM": "xterm"], stderrFD: pty.terminal)
            let logger = Logger(label: "cyberdesk-agent") { _ in
                StandardErrorLogHandler(output: output, fileDescriptor: pty.terminal)
            }
            logger.info("connected", metadata: ["server": "http://10.0.0.5:8080"])
            let line = try await pty.readLine()
            #expect(
                line.wholeMatch(
                    of:
                        /\e\[2m\d\d:\d\d:\d\d\.\d{3}\e\[0m \e\[32mINFO\e\[0m    connected\e\[2m server=http:\/\/10\.0\.0\.5:8080\e\[0m\n/
                ) != nil)
        }

        @Test("lines written by many tasks at once are never torn or interleaved")
        func concurrentLines() async throws {
            var template = Array("/tmp/cyberdesk-log-XXXXXX".utf8CString)
            let fd = mkstemp(&template)
            #expect(fd >= 0)
            let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            defer {
                close(fd)
                unlink(path)
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_APPEND)
            let logger = Logger(label: "cyberdesk-agent") { _ in
                StandardErrorLogHandler(output: .journal, fileDescriptor: fd)
            }
            let padding = String(repeating: "x", count: 300)
            await withTaskGroup(of: Void.self) { group in
                for task in 0..<8 {
                    group.addTask {
                        for index in 0..<250 {
                            logger.info(
                                "event", metadata: ["task": "\(task)", "index": "\(index)", "pad": "\(padding)"])
                        }
                    }
                }
            }
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(
                separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 8 * 250 + 1)
            #expect(lines.last == "")
            let wellFormed = lines.dropLast().filter {
                $0.wholeMatch(of: /<6>event index=\d+ pad=x{300} task=\d/) != nil
            }
            #expect(wellFormed.count == 8 * 250)
        }

        /// A pipe whose read end does not block.
        static func pipe() throws -> (read: Int32, write: Int32) {
            var ends: [Int32] = [0, 0]
            guard Glibc.pipe(&ends) == 0 else { throw SystemTestError("pipe: \(String(cString: strerror(errno)))") }
            _ = fcntl(ends[0], F_SETFL, fcntl(ends[0], F_GETFL) | O_NONBLOCK)
            return (ends[0], ends[1])
        }

        /// Everything written to the pipe so far; the handler writes synchronously, so it is
        /// all there when the logging call returns.
        static func available(_ fd: Int32) throws -> String {
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count <= 0 { break }
                bytes += buffer[0..<count]
            }
            return String(decoding: bytes, as: UTF8.self)
        }
    }
}
