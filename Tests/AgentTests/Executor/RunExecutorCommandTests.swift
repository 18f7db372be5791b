import Agent
import CyberdeskAPI
import Foundation
import TestSupport
import Testing

extension OnXvfb {
    @Suite("Run executor: terminal commands and runtime values")
    struct RunExecutorCommandTests {
        @Test("stdout (trimmed) goes to output_data and runtime values used by later steps")
        func output() async throws {
            try await ExecutorWorld.with { world in
                let outcome = await world.run(
                    [
                        step(
                            "execute_terminal_command", "printf '  hello {name}  \\n\\n'",
                            kwargs: ["output_key": "greeting"]),
                        step(
                            "upsert_runtime_values", kwargs: ["values": ["twice": "{{greeting}} {{greeting}}", "n": 2]]),
                        step("set_output", "combined", ["text": "{{twice}}!", "n": "{{n}}", "kept": 1.5]),
                        step(
                            "execute_terminal_command", "pwd",
                            kwargs: ["output_key": "cwd", "working_directory": "~/CyberdeskTransfers"]),
                        step("execute_terminal_command", "echo \"$HOME\"", kwargs: ["output_key": "home"]),
                        step("execute_terminal_command", "echo \"{{missing}}\"", kwargs: ["output_key": "unresolved"]),
                    ], inputs: ["name": "Ada"])
                #expect(outcome.status == .success, "\(outcome.errors)")
                #expect(outcome.outputData["greeting"] == "hello Ada")
                #expect(outcome.outputData["combined"] == ["text": "hello Ada hello Ada!", "n": "2", "kept": 1.5])
                #expect(outcome.outputData["twice"] == nil, "runtime values are not outputs")
                #expect(outcome.outputData["cwd"] == .string(world.transfers))
                #expect(outcome.outputData["home"] == .string(world.home))
                #expect(outcome.outputData["unresolved"] == "{{missing}}")
                let events = await world.environment.stepEvents
                #expect(events.count == 6)
                #expect(events.last?["unresolved_runtime_values"] == ["missing"])
                #expect(events.first?["result"]?.objectValue?["exit_code"] == 0)
                for event in events {
                    #expect(event["started_at"]?.stringValue != nil && event["ended_at"]?.stringValue != nil)
                    #expect(event["duration_ms"]?.doubleValue != nil)
                }
                #expect(await world.environment.startedSteps == [0, 1, 2, 3, 4, 5])
            }
        }

        @Test("a non-zero exit fails the task with the status and stderr")
        func nonZeroExit() async throws {
            try await ExecutorWorld.with { world in
                let outcome = await world.run([
                    step("execute_terminal_command", "echo partial; echo 'no such patient' >&2; exit 3"),
                    step("write_file", "after.txt", "must not run"),
                ])
                #expect(outcome.status == .taskFailed)
                #expect(
                    outcome.errors.first
                        == "step 0 (execute_terminal_command): the command exited with status 3: no such patient")
                #expect(!world.exists("CyberdeskTransfers/after.txt"))
                #expect(await world.environment.images.count == 1, "a final screenshot")
            }
        }

        @Test("a command past its timeout is killed with its process group")
        func timeout() async throws {
            try await ExecutorWorld.with { world in
                let started = ContinuousClock.now
                let outcome = await world.run([
                    step(
                        "execute_terminal_command", "sleep 30 & echo $! > \"$HOME/child.pid\"; wait",
                        kwargs: ["timeout": 0.5])
                ])
                #expect(started.duration(to: .now) < .seconds(5))
                #expect(outcome.status == .taskFailed)
                #expect(outcome.errors.first?.contains("did not finish within 0.5 s") == true)
                let pid = try #require(
                    world.read("child.pid").flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
                #expect(await eventually { Self.isGone(pid) }, "the background child was killed too")

                world.configuration.defaultTerminalCommandTimeout = 0.3
                let byDefault = await world.run([step("execute_terminal_command", "sleep 30")])
                #expect(byDefault.errors.first?.contains("did not finish within 0.3 s") == true)
                let explicit = await world.run([step("execute_terminal_command", "sleep 0.6; echo ok", 2)])
                #expect(explicit.status == .success, "an explicit timeout wins over the default")
            }
        }

        /// Gone, or a zombie waiting for init.
        static func isGone(_ pid: Int32) -> Bool {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
            return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
        }

        @Test("the workflow's allowlist refuses other commands and added shell operators")
        func allowlist() async throws {
            try await ExecutorWorld.with { world in
                let allowed = await world.run(
                    [step("execute_terminal_command", "echo fine", kwargs: ["output_key": "out"])], allowlist: ["echo"])
                #expect(allowed.status == .success, "\(allowed.errors)")
                #expect(allowed.outputData["out"] == "fine")

                for command in ["touch pwned", "echo hi; touch pwned", "echo {evil}"] {
                    let refused = await world.run(
                        [step("execute_terminal_command", .string(command))], inputs: ["evil": "$(touch pwned)"],
                        allowlist: ["echo"])
                    #expect(refused.status == .taskFailed, "\(command)")
                    #expect(refused.errors.first?.contains("terminal_command_allowlist") == true)
                    #expect(!world.exists("pwned"))
                }
            }
        }

        @Test("a missing working directory fails the task")
        func missingWorkingDirectory() async throws {
            try await ExecutorWorld.with { world in
                let outcome = await world.run([
                    step("execute_terminal_command", "true", kwargs: ["working_directory": "~/nowhere"])
                ])
                #expect(outcome.status == .taskFailed)
                #expect(outcome.errors.first?.contains("nowhere") == true)
            }
        }

        @Test("a command that leaves a program running in the background does not hang the step")
        func backgroundProgram() async throws {
            try await ExecutorWorld.with { world in
                let started = ContinuousClock.now
                let outcome = await world.run([
                    step("execute_terminal_command", "printf 'from xclip' | xclip -i -selection clipboard; echo done"),
                    step("copy_to_clipboard", "clip"),
                ])
                #expect(outcome.status == .success, "\(outcome.errors)")
                #expect(started.duration(to: .now) < .seconds(10))
                #expect(outcome.outputData["clip"] == "from xclip")
            }
        }
    }
}
