import CyberdeskAPI
import Testing

/// One step as JSON and what it must parse to.
struct StepCase: Sendable, CustomTestStringConvertible {
    let json: JSONValue
    let expected: Step
    init(_ json: JSONValue, _ expected: Step) {
        self.json = json
        self.expected = expected
    }
    var testDescription: String { json.compactJSON }
}

/// One step as JSON and the exact message it must be rejected with (as step 0).
struct StepErrorCase: Sendable, CustomTestStringConvertible {
    let json: JSONValue
    let message: String
    init(_ json: JSONValue, _ message: String) {
        self.json = json
        self.message = message
    }
    var testDescription: String { json.compactJSON }
}

@Suite("Step parsing")
struct StepParsingTests {
    static let pointerSteps: [StepCase] = [
        StepCase(["func_name": "screenshot"], .screenshot),
        StepCase(["func_name": "screenshot", "args": [], "kwargs": [:]], .screenshot),
        StepCase(["func_name": "screenshot", "args": nil, "kwargs": nil], .screenshot),
        // click: positional, named, mixed, named wins, defaults, floats and integral floats.
        StepCase(["func_name": "click", "args": [850, 450]], .click(x: 850, y: 450, button: .left, clicks: 1)),
        StepCase(
            ["func_name": "click", "args": [850.5, 450], "kwargs": ["button": "right"]],
            .click(x: 850.5, y: 450, button: .right, clicks: 1)),
        StepCase(
            ["func_name": "click", "kwargs": ["x": 1, "y": 2, "button": "middle", "clicks": 2]],
            .click(x: 1, y: 2, button: .middle, clicks: 2)),
        StepCase(
            ["func_name": "click", "args": [1, 2, "left", 1], "kwargs": ["x": 10, "button": "right"]],
            .click(x: 10, y: 2, button: .right, clicks: 1)),
        StepCase(
            ["func_name": "click", "args": [1, 2], "kwargs": ["clicks": 3.0]],
            .click(x: 1, y: 2, button: .left, clicks: 3)),
        StepCase(
            ["func_name": "click", "args": [1, 2], "kwargs": ["x": nil]],
            .click(x: 1, y: 2, button: .left, clicks: 1)),
        StepCase(
            ["func_name": "click", "args": [1, 2, nil, nil]],
            .click(x: 1, y: 2, button: .left, clicks: 1)),
        // click aliases.
        StepCase(["func_name": "left_click", "args": [5, 6]], .click(x: 5, y: 6, button: .left, clicks: 1)),
        StepCase(["func_name": "right_click", "args": [5, 6]], .click(x: 5, y: 6, button: .right, clicks: 1)),
        StepCase(["func_name": "middle_click", "args": [5, 6]], .click(x: 5, y: 6, button: .middle, clicks: 1)),
        StepCase(["func_name": "double_click", "args": [5, 6]], .click(x: 5, y: 6, button: .left, clicks: 2)),
        StepCase(["func_name": "triple_click", "args": [5, 6]], .click(x: 5, y: 6, button: .left, clicks: 3)),
        StepCase(
            ["func_name": "right_click", "args": [5, 6, 2]], .click(x: 5, y: 6, button: .right, clicks: 2)),
        StepCase(
            ["func_name": "right_click", "kwargs": ["x": 5, "y": 6, "button": "right"]],
            .click(x: 5, y: 6, button: .right, clicks: 1)),
        StepCase(
            ["func_name": "double_click", "args": [5, 6, "right"]], .click(x: 5, y: 6, button: .right, clicks: 2)),
        StepCase(
            ["func_name": "triple_click", "kwargs": ["x": 5, "y": 6, "clicks": 3]],
            .click(x: 5, y: 6, button: .left, clicks: 3)),
        // mouse_down / mouse_up / mouse_move.
        StepCase(["func_name": "mouse_down"], .mouseDown(button: .left, x: nil, y: nil)),
        StepCase(["func_name": "mouse_down", "args": ["right"]], .mouseDown(button: .right, x: nil, y: nil)),
        StepCase(["func_name": "mouse_down", "args": ["left", 5, 6]], .mouseDown(button: .left, x: 5, y: 6)),
        StepCase(
            ["func_name": "mouse_up", "kwargs": ["x": 1.5, "y": 2, "button": "middle"]],
            .mouseUp(button: .middle, x: 1.5, y: 2)),
        StepCase(["func_name": "mouse_up", "kwargs": ["x": nil, "y": nil]], .mouseUp(button: .left, x: nil, y: nil)),
        StepCase(["func_name": "mouse_move", "args": [10, 20]], .mouseMove(x: 10, y: 20)),
        StepCase(["func_name": "mouse_move", "kwargs": ["y": 20, "x": 10]], .mouseMove(x: 10, y: 20)),
        // drag.
        StepCase(
            ["func_name": "drag", "args": [1, 2, 3, 4]],
            .drag(startX: 1, startY: 2, toX: 3, toY: 4, duration: 0, button: .left)),
        StepCase(
            ["func_name": "drag", "args": [1, 2, 3, 4, 0.5, "right"]],
            .drag(startX: 1, startY: 2, toX: 3, toY: 4, duration: 0.5, button: .right)),
        StepCase(
            ["func_name": "drag", "kwargs": ["start_x": 1, "start_y": 2, "to_x": 3, "to_y": 4, "duration": 2]],
            .drag(startX: 1, startY: 2, toX: 3, toY: 4, duration: 2, button: .left)),
        StepCase(
            ["func_name": "left_click_drag", "args": [1, 2, 3, 4, 1]],
            .drag(startX: 1, startY: 2, toX: 3, toY: 4, duration: 1, button: .left)),
        // scroll.
        StepCase(["func_name": "scroll", "args": ["down", 3]], .scroll(direction: .down, amount: 3, x: nil, y: nil)),
        StepCase(
            ["func_name": "scroll", "args": ["left", 2.0, 100, 200]],
            .scroll(direction: .left, amount: 2, x: 100, y: 200)),
        StepCase(
            ["func_name": "scroll", "kwargs": ["direction": "up", "amount": 1, "x": 5, "y": 6]],
            .scroll(direction: .up, amount: 1, x: 5, y: 6)),
        StepCase(
            ["func_name": "scroll", "args": ["up", 1], "kwargs": ["direction": "right"]],
            .scroll(direction: .right, amount: 1, x: nil, y: nil)),
    ]

    static let otherSteps: [StepCase] = [
        StepCase(["func_name": "type", "args": ["hello {name}"]], .type(text: "hello {name}")),
        StepCase(["func_name": "type", "kwargs": ["text": "é 日本 🎉"]], .type(text: "é 日本 🎉")),
        StepCase(["func_name": "type", "args": [""]], .type(text: "")),
        StepCase(["func_name": "type", "args": ["a"], "kwargs": ["text": "b"]], .type(text: "b")),
        StepCase(["func_name": "key", "args": ["ctrl+s"]], .key(text: "ctrl+s", down: nil)),
        StepCase(["func_name": "key", "args": ["shift", true]], .key(text: "shift", down: true)),
        StepCase(
            ["func_name": "key", "kwargs": ["text": "tab tab enter", "down": false]],
            .key(text: "tab tab enter", down: false)),
        StepCase(["func_name": "wait", "args": [0]], .wait(seconds: 0)),
        StepCase(["func_name": "wait", "args": [1.5]], .wait(seconds: 1.5)),
        StepCase(["func_name": "wait", "kwargs": ["seconds": 2]], .wait(seconds: 2)),
        StepCase(["func_name": "copy_to_clipboard", "args": ["total"]], .copyToClipboard(key: "total")),
        StepCase(["func_name": "copy_to_clipboard", "kwargs": ["key": "total"]], .copyToClipboard(key: "total")),
        StepCase(["func_name": "set_clipboard", "args": ["long {text}"]], .setClipboard(text: "long {text}")),
        StepCase(["func_name": "set_clipboard", "kwargs": ["text": ""]], .setClipboard(text: "")),
        StepCase(
            ["func_name": "execute_terminal_command", "args": ["ls -la"]],
            .executeTerminalCommand(command: "ls -la", timeout: 30, outputKey: nil, workingDirectory: nil)),
        StepCase(
            ["func_name": "execute_terminal_command", "args": ["echo {x}", 5, "out", "/tmp"]],
            .executeTerminalCommand(command: "echo {x}", timeout: 5, outputKey: "out", workingDirectory: "/tmp")),
        StepCase(
            [
                "func_name": "execute_terminal_command",
                "kwargs": ["command": "pwd", "timeout": 0.5, "output_key": "dir", "working_directory": "~"],
            ],
            .executeTerminalCommand(command: "pwd", timeout: 0.5, outputKey: "dir", workingDirectory: "~")),
        StepCase(["func_name": "read_file", "args": ["~/a.txt", "a"]], .readFile(path: "~/a.txt", outputKey: "a")),
        StepCase(
            ["func_name": "read_file", "kwargs": ["path": "b.txt", "output_key": "b"]],
            .readFile(path: "b.txt", outputKey: "b")),
        StepCase(
            ["func_name": "write_file", "args": ["out.txt", "{report}"]],
            .writeFile(path: "out.txt", content: "{report}", mode: .write)),
        StepCase(
            ["func_name": "write_file", "kwargs": ["path": "log.txt", "content": "", "mode": "append"]],
            .writeFile(path: "log.txt", content: "", mode: .append)),
        StepCase(["func_name": "mark_file_for_export", "args": ["out.pdf"]], .markFileForExport(path: "out.pdf")),
        StepCase(["func_name": "set_output", "args": ["name", "{{x}}"]], .setOutput(key: "name", value: "{{x}}")),
        StepCase(
            ["func_name": "set_output", "kwargs": ["key": "obj", "value": ["a": [1, "{b}"]]]],
            .setOutput(key: "obj", value: ["a": [1, "{b}"]])),
        StepCase(
            ["func_name": "set_output", "kwargs": ["key": "nothing", "value": nil]],
            .setOutput(key: "nothing", value: .null)),
        StepCase(["func_name": "set_output", "args": ["n", 3]], .setOutput(key: "n", value: 3)),
        StepCase(
            ["func_name": "upsert_runtime_values", "args": [["a": 1, "b": "{x}"]]],
            .upsertRuntimeValues(values: ["a": 1, "b": "{x}"])),
        StepCase(["func_name": "upsert_runtime_values", "kwargs": ["values": [:]]], .upsertRuntimeValues(values: [:])),
        StepCase(
            ["func_name": "fail", "args": ["no invoice for {patient}"]], .fail(message: "no invoice for {patient}")),
        // Extra keys are kept by the caller and ignored here.
        StepCase(
            [
                "func_name": "click", "args": [1, 2], "pre_check_snapshot": "abc", "result": ["ok": true],
                "comment": "Save", "anything": [1, 2, 3],
            ],
            .click(x: 1, y: 2, button: .left, clicks: 1)),
    ]

    @Test("parses", arguments: pointerSteps + otherSteps)
    func parses(_ testCase: StepCase) throws {
        let step = try Step(parsing: testCase.json, index: 0)
        #expect(step == testCase.expected)
    }

    static let errors: [StepErrorCase] = [
        // Shape of the step.
        StepErrorCase(
            "click", "step 0: must be an object with 'func_name' (and optional 'args', 'kwargs'), got string"),
        StepErrorCase([1, 2], "step 0: must be an object with 'func_name' (and optional 'args', 'kwargs'), got array"),
        StepErrorCase(["args": [1]], "step 0: missing 'func_name'"),
        StepErrorCase(["func_name": nil], "step 0: missing 'func_name'"),
        StepErrorCase(["func_name": 3], "step 0: 'func_name' must be a string, got integer"),
        StepErrorCase(["func_name": "clik"], "step 0: unknown func_name 'clik' (did you mean 'click'?)"),
        StepErrorCase(["func_name": "Click"], "step 0: unknown func_name 'Click' (did you mean 'click'?)"),
        StepErrorCase(
            ["func_name": "double-click"], "step 0: unknown func_name 'double-click' (did you mean 'double_click'?)"),
        StepErrorCase(["func_name": "teleport"], "step 0: unknown func_name 'teleport'"),
        StepErrorCase(["func_name": ""], "step 0: unknown func_name ''"),
        StepErrorCase(
            ["func_name": "click", "args": "1,2"],
            "step 0 (click): 'args' must be an array of positional arguments, got string"),
        StepErrorCase(
            ["func_name": "click", "kwargs": [1, 2]],
            "step 0 (click): 'kwargs' must be an object of named arguments, got array"),
        StepErrorCase(
            ["func_name": "click", "args": [1, 2, "left", 1, 5]],
            "step 0 (click): too many positional arguments: got 5, at most 4 accepted (x, y, button, clicks)"),
        StepErrorCase(
            ["func_name": "screenshot", "args": [1]], "step 0 (screenshot): takes no arguments, got 1 positional"),
        StepErrorCase(
            ["func_name": "screenshot", "kwargs": ["x": 1]],
            "step 0 (screenshot): unknown argument 'x' (this function takes no arguments)"),
        StepErrorCase(
            ["func_name": "click", "args": [1, 2], "kwargs": ["butten": "left"]],
            "step 0 (click): unknown argument 'butten' (accepted: x, y, button, clicks)"),
        // click and aliases.
        StepErrorCase(["func_name": "click", "args": [1]], "step 0 (click): missing required argument 'y'"),
        StepErrorCase(["func_name": "click"], "step 0 (click): missing required argument 'x'"),
        StepErrorCase(
            ["func_name": "click", "kwargs": ["x": 1, "y": nil]], "step 0 (click): missing required argument 'y'"),
        StepErrorCase(
            ["func_name": "click", "args": ["{x}", 2]],
            "step 0 (click): 'x' must be a number, got the string \"{x}\" (templates are only applied to text arguments)"
        ),
        StepErrorCase(
            ["func_name": "click", "args": ["850", 2]], "step 0 (click): 'x' must be a number, got the string \"850\""),
        StepErrorCase(["func_name": "click", "args": [1, true]], "step 0 (click): 'y' must be a number, got true"),
        StepErrorCase(["func_name": "click", "args": [1, [2]]], "step 0 (click): 'y' must be a number, got an array"),
        StepErrorCase(
            ["func_name": "click", "args": [1, 2, "up"]],
            "step 0 (click): 'button' must be one of left, right, middle, got the string \"up\""),
        StepErrorCase(
            ["func_name": "click", "args": [1, 2, 1]],
            "step 0 (click): 'button' must be one of left, right, middle, got the number 1"),
        StepErrorCase(
            ["func_name": "click", "args": [1, 2, "left", 0]], "step 0 (click): 'clicks' must be 1, 2 or 3, got 0"),
        StepErrorCase(
            ["func_name": "click", "args": [1, 2, "left", 4]], "step 0 (click): 'clicks' must be 1, 2 or 3, got 4"),
        StepErrorCase(
            ["func_name": "click", "args": [1, 2, "left", 1.5]],
            "step 0 (click): 'clicks' must be a whole number, got 1.5"),
        StepErrorCase(
            ["func_name": "right_click", "kwargs": ["x": 1, "y": 2, "button": "left"]],
            "step 0 (right_click): 'button' is always right for right_click; use click (or drag) to choose it"),
        StepErrorCase(
            ["func_name": "double_click", "kwargs": ["x": 1, "y": 2, "clicks": 3]],
            "step 0 (double_click): 'clicks' is always 2 for double_click; use click (or drag) to choose it"),
        StepErrorCase(
            ["func_name": "left_click", "args": [1, 2, "right"]],
            "step 0 (left_click): 'clicks' must be a number, got the string \"right\""),
        StepErrorCase(
            ["func_name": "triple_click", "args": [1]], "step 0 (triple_click): missing required argument 'y'"),
        // mouse_down / mouse_up / mouse_move.
        StepErrorCase(
            ["func_name": "mouse_down", "kwargs": ["x": 5]],
            "step 0 (mouse_down): 'x' is given without 'y'; give both or neither"),
        StepErrorCase(
            ["func_name": "mouse_up", "args": ["left", nil, 5]],
            "step 0 (mouse_up): 'y' is given without 'x'; give both or neither"),
        StepErrorCase(
            ["func_name": "mouse_up", "args": ["back"]],
            "step 0 (mouse_up): 'button' must be one of left, right, middle, got the string \"back\""),
        StepErrorCase(["func_name": "mouse_move", "args": [1]], "step 0 (mouse_move): missing required argument 'y'"),
        // drag.
        StepErrorCase(["func_name": "drag", "args": [1, 2, 3]], "step 0 (drag): missing required argument 'to_y'"),
        StepErrorCase(
            ["func_name": "drag", "args": [1, 2, 3, 4, -1]], "step 0 (drag): 'duration' must be 0 or more, got -1"),
        StepErrorCase(
            [
                "func_name": "left_click_drag",
                "kwargs": ["start_x": 1, "start_y": 2, "to_x": 3, "to_y": 4, "button": "right"],
            ],
            "step 0 (left_click_drag): 'button' is always left for left_click_drag; use click (or drag) to choose it"),
        // scroll.
        StepErrorCase(
            ["func_name": "scroll", "args": ["sideways", 1]],
            "step 0 (scroll): 'direction' must be one of up, down, left, right, got the string \"sideways\""),
        StepErrorCase(
            ["func_name": "scroll", "args": ["up", 0]], "step 0 (scroll): 'amount' must be at least 1, got 0"),
        StepErrorCase(
            ["func_name": "scroll", "args": ["up", -3]], "step 0 (scroll): 'amount' must be at least 1, got -3"),
        StepErrorCase(
            ["func_name": "scroll", "args": ["up", 1.5]], "step 0 (scroll): 'amount' must be a whole number, got 1.5"),
        StepErrorCase(["func_name": "scroll", "args": ["up"]], "step 0 (scroll): missing required argument 'amount'"),
        StepErrorCase(
            ["func_name": "scroll", "kwargs": ["amount": 1]], "step 0 (scroll): missing required argument 'direction'"),
        StepErrorCase(
            ["func_name": "scroll", "args": ["up", 1, 5]],
            "step 0 (scroll): 'x' is given without 'y'; give both or neither"),
        // type / key / wait.
        StepErrorCase(["func_name": "type"], "step 0 (type): missing required argument 'text'"),
        StepErrorCase(
            ["func_name": "type", "args": [42]], "step 0 (type): 'text' must be a string, got the number 42"),
        StepErrorCase(["func_name": "key", "args": [""]], "step 0 (key): 'text' must not be empty"),
        StepErrorCase(["func_name": "key", "args": ["  "]], "step 0 (key): 'text' must not be empty"),
        StepErrorCase(
            ["func_name": "key", "args": ["ctrl+shfit+t"]],
            "step 0 (key): unknown key name 'shfit' in 'ctrl+shfit+t'; use names like ctrl, shift, alt, super, enter, tab, esc, pagedown, f1-f24, an X keysym name or a single character"
        ),
        StepErrorCase(
            ["func_name": "key", "args": ["tab ctrl+"]],
            "step 0 (key): cannot read the key chord 'ctrl+': empty key name (a '+' with nothing after it?)"),
        StepErrorCase(
            ["func_name": "key", "args": ["a", "yes"]],
            "step 0 (key): 'down' must be true or false, got the string \"yes\""),
        StepErrorCase(["func_name": "wait", "args": [-1]], "step 0 (wait): 'seconds' must be 0 or more, got -1"),
        StepErrorCase(["func_name": "wait", "args": [-0.5]], "step 0 (wait): 'seconds' must be 0 or more, got -0.5"),
        StepErrorCase(["func_name": "wait"], "step 0 (wait): missing required argument 'seconds'"),
        StepErrorCase(
            ["func_name": "wait", "args": ["5"]], "step 0 (wait): 'seconds' must be a number, got the string \"5\""),
        // Clipboard, terminal, files, outputs.
        StepErrorCase(
            ["func_name": "copy_to_clipboard", "args": [""]], "step 0 (copy_to_clipboard): 'key' must not be empty"),
        StepErrorCase(
            ["func_name": "copy_to_clipboard"], "step 0 (copy_to_clipboard): missing required argument 'key'"),
        StepErrorCase(["func_name": "set_clipboard"], "step 0 (set_clipboard): missing required argument 'text'"),
        StepErrorCase(
            ["func_name": "execute_terminal_command"],
            "step 0 (execute_terminal_command): missing required argument 'command'"),
        StepErrorCase(
            ["func_name": "execute_terminal_command", "args": [""]],
            "step 0 (execute_terminal_command): 'command' must not be empty"),
        StepErrorCase(
            ["func_name": "execute_terminal_command", "args": ["ls", 0]],
            "step 0 (execute_terminal_command): 'timeout' must be greater than 0 seconds, got 0"),
        StepErrorCase(
            ["func_name": "execute_terminal_command", "args": ["ls", -5]],
            "step 0 (execute_terminal_command): 'timeout' must be greater than 0 seconds, got -5"),
        StepErrorCase(
            ["func_name": "execute_terminal_command", "kwargs": ["command": "ls", "output_key": ""]],
            "step 0 (execute_terminal_command): 'output_key' must not be empty"),
        StepErrorCase(
            ["func_name": "execute_terminal_command", "kwargs": ["command": "ls", "working_directory": 3]],
            "step 0 (execute_terminal_command): 'working_directory' must be a string, got the number 3"),
        StepErrorCase(
            ["func_name": "read_file", "args": ["a.txt"]], "step 0 (read_file): missing required argument 'output_key'"),
        StepErrorCase(["func_name": "read_file", "args": ["", "k"]], "step 0 (read_file): 'path' must not be empty"),
        StepErrorCase(
            ["func_name": "write_file", "args": ["a.txt"]], "step 0 (write_file): missing required argument 'content'"),
        StepErrorCase(
            ["func_name": "write_file", "args": ["a.txt", "x", "overwrite"]],
            "step 0 (write_file): 'mode' must be one of write, append, got the string \"overwrite\""),
        StepErrorCase(
            ["func_name": "mark_file_for_export", "args": [""]],
            "step 0 (mark_file_for_export): 'path' must not be empty"),
        StepErrorCase(
            ["func_name": "mark_file_for_export"], "step 0 (mark_file_for_export): missing required argument 'path'"),
        StepErrorCase(
            ["func_name": "set_output", "args": ["k"]], "step 0 (set_output): missing required argument 'value'"),
        StepErrorCase(
            ["func_name": "set_output", "kwargs": ["value": 1]], "step 0 (set_output): missing required argument 'key'"),
        StepErrorCase(
            ["func_name": "upsert_runtime_values", "args": [[1]]],
            "step 0 (upsert_runtime_values): 'values' must be an object, got an array"),
        StepErrorCase(
            ["func_name": "upsert_runtime_values"], "step 0 (upsert_runtime_values): missing required argument 'values'"
        ),
        StepErrorCase(["func_name": "fail"], "step 0 (fail): missing required argument 'message'"),
    ]

    @Test("rejects with a message naming the step and the problem", arguments: errors)
    func rejects(_ testCase: StepErrorCase) {
        let error = #expect(throws: TrajectoryValidationError.self) {
            try Step(parsing: testCase.json, index: 0)
        }
        #expect(error?.description == testCase.message)
        #expect(error?.stepIndex == 0)
    }

    @Test("non-finite numbers built in code are rejected")
    func nonFinite() {
        #expect(throws: TrajectoryValidationError.self) {
            try Step(parsing: ["func_name": "wait", "args": [.double(.infinity)]], index: 0)
        }
        #expect(throws: TrajectoryValidationError.self) {
            try Step(parsing: ["func_name": "click", "args": [.double(.nan), 1]], index: 0)
        }
    }

    @Test(
        "funcName is canonical",
        arguments: [
            ("double_click", "click"), ("left_click_drag", "drag"), ("right_click", "click"),
        ])
    func canonicalName(alias: String, canonical: String) throws {
        let args: JSONValue = alias == "left_click_drag" ? [1, 2, 3, 4] : [1, 2]
        #expect(try Step(parsing: ["func_name": .string(alias), "args": args], index: 0).funcName == canonical)
    }

    @Test("every listed func_name parses with suitable arguments", arguments: Step.funcNames)
    func everyFuncName(name: String) throws {
        let args: [String: JSONValue] = [
            "screenshot": [], "mouse_down": [], "mouse_up": [],
            "drag": [1, 2, 3, 4], "left_click_drag": [1, 2, 3, 4], "scroll": ["up", 1], "type": ["t"],
            "key": ["a"], "wait": [0], "copy_to_clipboard": ["k"], "set_clipboard": ["t"],
            "execute_terminal_command": ["true"], "read_file": ["p", "k"], "write_file": ["p", "c"],
            "mark_file_for_export": ["p"], "set_output": ["k", "v"], "upsert_runtime_values": [[:]],
            "fail": ["m"],
        ]
        let step = try Step(parsing: ["func_name": .string(name), "args": args[name] ?? [1, 2]], index: 0)
        #expect(Step.funcNames.contains(step.funcName))
    }
}
