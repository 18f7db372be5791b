import Foundation
import TestSupport
import Testing

extension RecorderOnXvfb {
    /// `cyberdesk-agent record` as a user runs it.
    @Suite("cyberdesk-agent record")
    struct RecordCommandTests {
        /// Starts `record` with stdout kept in a file; returns once the server records.
        private func startRecord(on server: XvfbServer, directory: URL, arguments: [String]) async throws -> (
            ChildProcess, stdout: URL
        ) {
            let stdout = directory.appendingPathComponent("stdout.txt")
            let child = try ChildProcess(
                "/bin/sh", ["-c", "exec \"$@\" > '\(stdout.path)'", "sh", agentExecutable, "record"] + arguments,
                environment: ["DISPLAY": server.display])
            let started = await eventually(timeout: .seconds(30)) { child.log.contains("recording") }
            guard started else {
                child.signal(SIGKILL)
                throw TestFailure("record did not start: \(child.log)")
            }
            return (child, stdout)
        }

        private func temporaryDirectory() throws -> URL {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("record-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            return directory
        }

        @Test("a typed secret never appears in the output, on the terminal or in any file, in any encoding")
        func secretNeverWritten() async throws {
            let server = try XvfbServer(width: 800, height: 600)
            let directory = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let secret = "S3cr\"t&/Pw"
            let secretDirectory = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: secretDirectory) }
            let secretFile = secretDirectory.appendingPathComponent("pw")
            try (secret + "\n").write(to: secretFile, atomically: true, encoding: .utf8)
            let output = directory.appendingPathComponent("trajectory.json")
            let (child, stdout) = try await startRecord(
                on: server, directory: directory,
                arguments: ["-o", output.path, "--input", "patient=Ann", "--secret-file", "pw=\(secretFile.path)"])
            try await xdotool(
                server,
                "mousemove 200 200 sleep 0.3 click 1 sleep 0.7 ; type Ann ; key Tab ; type \(secret) ; "
                    + "key Return ; key ctrl+alt+shift+s")
            let stopped = await eventually { child.exitStatus != nil }
            if !stopped { child.signal(SIGTERM) }
            #expect(stopped, "the stop chord did not end the recording")
            #expect(await child.wait() == 0, "\(child.log)")

            let written = try String(contentsOf: output, encoding: .utf8)
            #expect(written.contains("\"text\" : \"{patient}\""))
            #expect(written.contains("\"text\" : \"{$pw}\""))
            let terminal = try String(contentsOf: stdout, encoding: .utf8)
            #expect(terminal.contains("type \"{$pw}\""), "\(terminal)")

            // Every form the value could take in JSON, logs, URLs or encoded blobs.
            let bytes = Data(secret.utf8)
            var forms = [secret]
            let json = String(decoding: try JSONEncoder().encode(secret), as: UTF8.self)
            forms.append(String(json.dropFirst().dropLast()))
            forms.append(secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)
            forms.append(bytes.base64EncodedString())
            // Base64 of the value at any alignment inside a longer blob: the middle of the
            // encoding of the value shifted by one and two bytes.
            for pad in 1...2 {
                let shifted = (Data(repeating: 0x41, count: pad) + bytes).base64EncodedString()
                forms.append(String(shifted.dropFirst(4).dropLast(4)))
            }
            var texts = [("output", written), ("stdout", terminal), ("stderr", child.log)]
            for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
                let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) ?? Data()
                texts.append((name, String(decoding: data, as: UTF8.self)))
            }
            for (name, text) in texts {
                for form in forms {
                    #expect(!text.contains(form), "the secret appears in \(name) as \(form)")
                }
            }
        }

        @Test("SIGINT ends the recording with exit 0 and the steps so far written")
        func sigintWrites() async throws {
            let server = try XvfbServer(width: 800, height: 600)
            let directory = try temporaryDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            let output = directory.appendingPathComponent("out.json")
            let (child, stdout) = try await startRecord(
                on: server, directory: directory, arguments: ["-o", output.path])
            try await xdotool(server, "type hello␣world ; key ctrl+s")
            // The line for the type step is printed once the chord that follows decided it.
            let printed = await eventually {
                ((try? String(contentsOf: stdout, encoding: .utf8)) ?? "").contains("type \"hello world\"")
            }
            #expect(printed)
            child.signal(SIGINT)
            #expect(await child.wait() == 0, "\(child.log)")
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: output)) as? [String: Any]
            let steps = object?["trajectory_data"] as? [[String: Any]] ?? []
            #expect(steps.map { $0["func_name"] as? String } == ["type", "key"])
            #expect((object?["dimensions"] as? [String: Int]) == ["width": 800, "height": 600])
        }
    }
}
