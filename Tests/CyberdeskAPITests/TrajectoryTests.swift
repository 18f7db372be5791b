import CyberdeskAPI
import Testing

@Suite("Trajectory validation")
struct TrajectoryTests {
    @Test("a valid trajectory parses in order")
    func validTrajectory() throws {
        let steps = try Trajectory.validate([
            ["func_name": "screenshot"],
            ["func_name": "double_click", "args": [10, 20]],
            ["func_name": "type", "args": ["{patient.name} {$password}"]],
            ["func_name": "key", "args": ["enter"]],
        ])
        #expect(
            steps == [
                .screenshot, .click(x: 10, y: 20, button: .left, clicks: 2),
                .type(text: "{patient.name} {$password}"), .key(text: "enter", down: nil),
            ])
    }

    @Test("an empty trajectory is rejected")
    func empty() {
        let error = #expect(throws: TrajectoryValidationError.self) { try Trajectory.validate([]) }
        #expect(error == .noSteps)
        #expect(error?.description == "a trajectory needs at least one step")
    }

    @Test("the error names the index of the bad step")
    func stepIndex() {
        let error = #expect(throws: TrajectoryValidationError.self) {
            try Trajectory.validate([
                ["func_name": "screenshot"], ["func_name": "wait", "args": [1]], ["func_name": "screenshot"],
                ["func_name": "click", "args": [850]],
            ])
        }
        #expect(error?.description == "step 3 (click): missing required argument 'y'")
        #expect(error?.stepIndex == 3)
    }

    @Test("a step that is not an object is rejected with its index")
    func notAnObject() {
        let error = #expect(throws: TrajectoryValidationError.self) {
            try Trajectory.validate([["func_name": "screenshot"], "screenshot"])
        }
        #expect(error?.description.hasPrefix("step 1: must be an object") == true)
    }

    @Test("10,000 steps are accepted, 10,001 rejected")
    func stepLimit() throws {
        let step: JSONValue = ["func_name": "screenshot"]
        #expect(try Trajectory.validate(Array(repeating: step, count: Trajectory.maxSteps)).count == 10_000)
        let error = #expect(throws: TrajectoryValidationError.self) {
            try Trajectory.validate(Array(repeating: step, count: Trajectory.maxSteps + 1))
        }
        #expect(error?.description == "a trajectory may have at most 10000 steps; this one has 10001")
    }

    @Test("string arguments up to 1 MiB are accepted, longer ones rejected")
    func stringLimit() throws {
        let limit = Trajectory.maxStringArgumentBytes
        #expect(limit == 1_048_576)
        let largest = String(repeating: "a", count: limit)
        #expect(try Trajectory.validate([["func_name": "type", "args": [.string(largest)]]]) == [.type(text: largest)])

        let error = #expect(throws: TrajectoryValidationError.self) {
            try Trajectory.validate([
                ["func_name": "screenshot"], ["func_name": "type", "args": [.string(largest + "b")]],
            ])
        }
        #expect(
            error?.description
                == "step 1 (type): 'text' is 1048577 bytes long; a string argument may be at most 1 MiB (1048576 bytes)"
        )
    }

    @Test("the limit counts UTF-8 bytes, nested strings included")
    func stringLimitBytesAndNesting() {
        // 524,289 two-byte characters: fewer characters than the limit, more bytes.
        let accents = String(repeating: "é", count: Trajectory.maxStringArgumentBytes / 2 + 1)
        #expect(throws: TrajectoryValidationError.self) {
            try Trajectory.validate([["func_name": "write_file", "args": ["a.txt", .string(accents)]]])
        }
        let error = #expect(throws: TrajectoryValidationError.self) {
            try Trajectory.validate([
                ["func_name": "set_output", "kwargs": ["key": "k", "value": ["deep": [.string(accents)]]]]
            ])
        }
        #expect(error?.description.hasPrefix("step 0 (set_output): 'value' is 1048578 bytes long") == true)
    }
}

@Suite("Sensitive inputs in steps")
struct SensitiveInputRuleTests {
    @Test("{$name} is allowed in the text of a type step")
    func allowedInType() throws {
        let steps = try Trajectory.validate([
            ["func_name": "type", "args": ["{$password}"]],
            ["func_name": "type", "kwargs": ["text": "user {$user} pass {$creds.pin}\n"]],
        ])
        #expect(Trajectory.sensitiveNames(in: steps) == ["password", "user", "creds.pin"])
    }

    static let rejected: [StepErrorCase] = [
        StepErrorCase(
            ["func_name": "key", "args": ["{$password}"]],
            "step 0 (key): 'text' uses the sensitive input {$password}; sensitive inputs are only allowed in the text of a type step"
        ),
        StepErrorCase(
            ["func_name": "set_clipboard", "args": ["x {$token} y"]],
            "step 0 (set_clipboard): 'text' uses the sensitive input {$token}; sensitive inputs are only allowed in the text of a type step"
        ),
        StepErrorCase(
            ["func_name": "execute_terminal_command", "args": ["curl -u admin:{$pw} x"]],
            "step 0 (execute_terminal_command): 'command' uses the sensitive input {$pw}; sensitive inputs are only allowed in the text of a type step"
        ),
        StepErrorCase(
            ["func_name": "execute_terminal_command", "kwargs": ["command": "ls", "working_directory": "/{$dir}"]],
            "step 0 (execute_terminal_command): 'working_directory' uses the sensitive input {$dir}; sensitive inputs are only allowed in the text of a type step"
        ),
        StepErrorCase(
            ["func_name": "write_file", "args": ["a.txt", "{$secret}"]],
            "step 0 (write_file): 'content' uses the sensitive input {$secret}; sensitive inputs are only allowed in the text of a type step"
        ),
        StepErrorCase(
            ["func_name": "read_file", "args": ["{$path}", "k"]],
            "step 0 (read_file): 'path' uses the sensitive input {$path}; sensitive inputs are only allowed in the text of a type step"
        ),
        StepErrorCase(
            ["func_name": "mark_file_for_export", "args": ["{$f}"]],
            "step 0 (mark_file_for_export): 'path' uses the sensitive input {$f}; sensitive inputs are only allowed in the text of a type step"
        ),
        StepErrorCase(
            ["func_name": "set_output", "args": ["k", ["nested": ["{$pw}"]]]],
            "step 0 (set_output): 'value' uses the sensitive input {$pw}; sensitive inputs are only allowed in the text of a type step"
        ),
        StepErrorCase(
            ["func_name": "upsert_runtime_values", "args": [["a": "{$pw}"]]],
            "step 0 (upsert_runtime_values): 'values' uses the sensitive input {$pw}; sensitive inputs are only allowed in the text of a type step"
        ),
        StepErrorCase(
            ["func_name": "fail", "args": ["bad {$pw}"]],
            "step 0 (fail): 'message' uses the sensitive input {$pw}; sensitive inputs are only allowed in the text of a type step"
        ),
        StepErrorCase(
            ["func_name": "copy_to_clipboard", "args": ["{$k}"]],
            "step 0 (copy_to_clipboard): 'key' uses the sensitive input {$k}; sensitive inputs are only allowed in the text of a type step"
        ),
        StepErrorCase(
            ["func_name": "click", "args": ["{$x}", 1]],
            "step 0 (click): 'x' uses the sensitive input {$x}; sensitive inputs are only allowed in the text of a type step"
        ),
    ]

    @Test("{$name} anywhere else is rejected, naming the step", arguments: rejected)
    func rejectedElsewhere(_ testCase: StepErrorCase) {
        let error = #expect(throws: TrajectoryValidationError.self) {
            try Trajectory.validate([testCase.json])
        }
        #expect(error?.description == testCase.message)
    }

    @Test("the error names the step index")
    func index() {
        let error = #expect(throws: TrajectoryValidationError.self) {
            try Trajectory.validate([
                ["func_name": "type", "args": ["{$pw}"]], ["func_name": "key", "args": ["{$pw}"]],
            ])
        }
        #expect(error?.stepIndex == 1)
    }

    @Test(
        "text that only looks like a secret is fine outside type",
        arguments: ["\\{$pw}", "{$}", "{ $pw }", "$pw", "{$pw", "{$a b}", "price: ${amount}"] as [String])
    func notSecrets(text: String) throws {
        let steps = try Trajectory.validate([["func_name": "set_clipboard", "args": [.string(text)]]])
        #expect(Trajectory.sensitiveNames(in: steps).isEmpty)
    }
}

@Suite("Names used by a trajectory")
struct TrajectoryNamesTests {
    static let steps: [JSONValue] = [
        ["func_name": "type", "args": ["Hello {patient.name}, {$password} {{otp}}"]],
        ["func_name": "execute_terminal_command", "args": ["echo {mrn} {{clip}} \\{literal}", 10, "out"]],
        ["func_name": "set_output", "args": ["k", ["a": ["{visit.date}", 3]]]],
        ["func_name": "upsert_runtime_values", "args": [["x": "{{out}}-{mrn}"]]],
        ["func_name": "type", "args": ["{$password}{$ssn}"]],
        ["func_name": "write_file", "args": ["{dir}/a.json", "{\"json\": {\"stays\": true}}"]],
        ["func_name": "click", "args": [1, 2]],
    ]

    @Test("sensitive, input and runtime names are collected from every step")
    func names() throws {
        let steps = try Trajectory.validate(TrajectoryNamesTests.steps)
        #expect(Trajectory.sensitiveNames(in: steps) == ["password", "ssn"])
        #expect(Trajectory.inputNames(in: steps) == ["patient.name", "mrn", "visit.date", "dir"])
        #expect(Trajectory.runtimeNames(in: steps) == ["otp", "clip", "out"])
    }
}
