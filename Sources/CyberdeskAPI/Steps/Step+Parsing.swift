extension Step {
    /// Every `func_name` accepted, aliases included, in the order of `STEPS.md`.
    public static let funcNames: [String] = [
        "screenshot", "click", "left_click", "right_click", "middle_click", "double_click", "triple_click",
        "mouse_down", "mouse_up", "mouse_move", "drag", "left_click_drag", "scroll", "type", "key", "wait",
        "copy_to_clipboard", "set_clipboard", "execute_terminal_command", "read_file", "write_file",
        "mark_file_for_export", "set_output", "upsert_runtime_values", "fail",
    ]

    /// Parses and validates one step of the JSON format in `STEPS.md`.
    ///
    /// Everything that would make the step fail for a reason known in advance is rejected
    /// here: unknown `func_name`, missing or unknown arguments, wrong types, values that cannot
    /// execute (negative wait, clicks outside 1...3, scroll amount below 1, a timeout of 0 or
    /// less, an unknown write mode, empty key text or paths), strings over 1 MiB, and a
    /// `{$name}` outside the text of a `type` step, and key names the agent would not know
    /// (`KeyVocabulary`; a key text with `{…}` placeholders is checked when it runs). Keys of
    /// the step object other than `func_name`, `args` and `kwargs` are ignored.
    ///
    /// - Parameter index: the step's position in the trajectory, for error messages.
    public init(parsing json: JSONValue, index: Int) throws(TrajectoryValidationError) {
        guard case .object(let step) = json else {
            throw .invalidStep(index: index, funcName: nil, problem: .notAnObject(got: json.typeName))
        }
        guard let nameValue = step["func_name"], nameValue != .null else {
            throw .invalidStep(index: index, funcName: nil, problem: .missingFuncName)
        }
        guard case .string(let funcName) = nameValue else {
            throw .invalidStep(index: index, funcName: nil, problem: .funcNameNotAString(got: nameValue.typeName))
        }

        func arguments(
            _ positional: [String], namedOnly: [String] = [], sensitiveAllowedIn: String? = nil
        ) throws(TrajectoryValidationError) -> StepArguments {
            try StepArguments(
                step: step, index: index, funcName: funcName, positional: positional, namedOnly: namedOnly,
                sensitiveAllowedIn: sensitiveAllowedIn)
        }

        switch funcName {
        case "screenshot":
            _ = try arguments([])
            self = .screenshot

        case "click":
            let args = try arguments(["x", "y", "button", "clicks"])
            self = .click(
                x: try args.requiredNumber("x"), y: try args.requiredNumber("y"),
                button: try args.choice("button") ?? .left, clicks: try Step.clicks(args, default: 1))

        case "left_click", "right_click", "middle_click":
            let fixedButton: MouseButtonName =
                switch funcName {
                case "right_click": .right
                case "middle_click": .middle
                default: .left
                }
            let args = try arguments(["x", "y", "clicks"], namedOnly: ["button"])
            let x = try args.requiredNumber("x")
            let y = try args.requiredNumber("y")
            if let button: MouseButtonName = try args.choice("button"), button != fixedButton {
                throw args.failure(
                    .conflictsWithAlias(argument: "button", alias: funcName, fixedValue: fixedButton.rawValue))
            }
            self = .click(x: x, y: y, button: fixedButton, clicks: try Step.clicks(args, default: 1))

        case "double_click", "triple_click":
            let fixedClicks = funcName == "double_click" ? 2 : 3
            let args = try arguments(["x", "y", "button"], namedOnly: ["clicks"])
            let x = try args.requiredNumber("x")
            let y = try args.requiredNumber("y")
            let button = try args.choice("button") ?? MouseButtonName.left
            if let clicks = try args.integer("clicks"), clicks != fixedClicks {
                throw args.failure(
                    .conflictsWithAlias(argument: "clicks", alias: funcName, fixedValue: String(fixedClicks)))
            }
            self = .click(x: x, y: y, button: button, clicks: fixedClicks)

        case "mouse_down", "mouse_up":
            let args = try arguments(["button", "x", "y"])
            let button = try args.choice("button") ?? MouseButtonName.left
            let (x, y) = try args.optionalPoint("x", "y")
            self =
                funcName == "mouse_down" ? .mouseDown(button: button, x: x, y: y) : .mouseUp(button: button, x: x, y: y)

        case "mouse_move":
            let args = try arguments(["x", "y"])
            self = .mouseMove(x: try args.requiredNumber("x"), y: try args.requiredNumber("y"))

        case "drag", "left_click_drag":
            let isAlias = funcName == "left_click_drag"
            let args =
                isAlias
                ? try arguments(["start_x", "start_y", "to_x", "to_y", "duration"], namedOnly: ["button"])
                : try arguments(["start_x", "start_y", "to_x", "to_y", "duration", "button"])
            let startX = try args.requiredNumber("start_x")
            let startY = try args.requiredNumber("start_y")
            let toX = try args.requiredNumber("to_x")
            let toY = try args.requiredNumber("to_y")
            let duration = try args.number("duration") ?? 0
            guard duration >= 0 else {
                throw args.failure(.outOfRange(argument: "duration", requirement: "0 or more", value: format(duration)))
            }
            let button = try args.choice("button") ?? MouseButtonName.left
            if isAlias, button != .left {
                throw args.failure(.conflictsWithAlias(argument: "button", alias: funcName, fixedValue: "left"))
            }
            self = .drag(startX: startX, startY: startY, toX: toX, toY: toY, duration: duration, button: button)

        case "scroll":
            let args = try arguments(["direction", "amount", "x", "y"])
            guard let direction: ScrollDirectionName = try args.choice("direction") else {
                throw args.failure(.missingArgument("direction"))
            }
            let amount = try args.requiredInteger("amount")
            guard amount >= 1 else {
                throw args.failure(.outOfRange(argument: "amount", requirement: "at least 1", value: String(amount)))
            }
            let (x, y) = try args.optionalPoint("x", "y")
            self = .scroll(direction: direction, amount: amount, x: x, y: y)

        case "type":
            let args = try arguments(["text"], sensitiveAllowedIn: "text")
            self = .type(text: try args.requiredString("text"))

        case "key":
            let args = try arguments(["text", "down"])
            let text = try args.requiredString("text")
            guard !text.allSatisfy(\.isWhitespace) else { throw args.failure(.empty(argument: "text")) }
            try Step.checkKeyNames(text, args)
            self = .key(text: text, down: try args.bool("down"))

        case "wait":
            let args = try arguments(["seconds"])
            let seconds = try args.requiredNumber("seconds")
            guard seconds >= 0 else {
                throw args.failure(.outOfRange(argument: "seconds", requirement: "0 or more", value: format(seconds)))
            }
            self = .wait(seconds: seconds)

        case "copy_to_clipboard":
            let args = try arguments(["key"])
            self = .copyToClipboard(key: try args.requiredNonEmptyString("key"))

        case "set_clipboard":
            let args = try arguments(["text"])
            self = .setClipboard(text: try args.requiredString("text"))

        case "execute_terminal_command":
            let args = try arguments(["command", "timeout", "output_key", "working_directory"])
            let command = try args.requiredNonEmptyString("command")
            let timeout = try args.number("timeout") ?? 30
            guard timeout > 0 else {
                throw args.failure(
                    .outOfRange(argument: "timeout", requirement: "greater than 0 seconds", value: format(timeout)))
            }
            self = .executeTerminalCommand(
                command: command, timeout: timeout, outputKey: try args.nonEmptyString("output_key"),
                workingDirectory: try args.nonEmptyString("working_directory"))

        case "read_file":
            let args = try arguments(["path", "output_key"])
            self = .readFile(
                path: try args.requiredNonEmptyString("path"), outputKey: try args.requiredNonEmptyString("output_key"))

        case "write_file":
            let args = try arguments(["path", "content", "mode"])
            self = .writeFile(
                path: try args.requiredNonEmptyString("path"), content: try args.requiredString("content"),
                mode: try args.choice("mode") ?? .write)

        case "mark_file_for_export":
            let args = try arguments(["path"])
            self = .markFileForExport(path: try args.requiredNonEmptyString("path"))

        case "set_output":
            let args = try arguments(["key", "value"])
            let key = try args.requiredNonEmptyString("key")
            // An explicit null is a value to store, unlike elsewhere where null means "not given".
            guard let value = args.raw("value") else { throw args.failure(.missingArgument("value")) }
            self = .setOutput(key: key, value: value)

        case "upsert_runtime_values":
            let args = try arguments(["values"])
            guard let values = try args.object("values") else { throw args.failure(.missingArgument("values")) }
            self = .upsertRuntimeValues(values: values)

        case "fail":
            let args = try arguments(["message"])
            self = .fail(message: try args.requiredString("message"))

        default:
            throw .invalidStep(
                index: index, funcName: nil,
                problem: .unknownFuncName(funcName, suggestion: Step.closestFuncName(to: funcName)))
        }
    }

    private static func clicks(_ args: StepArguments, default: Int) throws(TrajectoryValidationError) -> Int {
        let clicks = try args.integer("clicks") ?? `default`
        guard (1...3).contains(clicks) else {
            throw args.failure(.outOfRange(argument: "clicks", requirement: "1, 2 or 3", value: String(clicks)))
        }
        return clicks
    }

    /// The known func_name within two edits of `name` (case-insensitive), if any: enough to
    /// catch `clik`, `Click` or `double-click` without suggesting nonsense.
    static func closestFuncName(to name: String) -> String? {
        let lowered = Array(name.lowercased().unicodeScalars)
        guard lowered.count <= 40 else { return nil }
        var best: (name: String, distance: Int)?
        for candidate in funcNames {
            let distance = editDistance(lowered, Array(candidate.unicodeScalars))
            if distance <= 2, distance < (best?.distance ?? Int.max) { best = (candidate, distance) }
        }
        return best?.name
    }

    private static func editDistance(_ a: [Unicode.Scalar], _ b: [Unicode.Scalar]) -> Int {
        guard !a.isEmpty else { return b.count }
        guard !b.isEmpty else { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            previous = current
        }
        return previous[b.count]
    }
}

/// A number as the user wrote it: `2` rather than `2.0`.
private func format(_ number: Double) -> String {
    JSONValue.double(number).templateText
}

extension Step {
    /// A `key` step's chords must read and name keys the agent knows. Text with template
    /// placeholders is known only when the step runs, so it is left to the agent.
    static func checkKeyNames(_ text: String, _ args: StepArguments) throws(TrajectoryValidationError) {
        let template = Template(text)
        guard !template.hasPlaceholders else { return }
        let literal = template.render(inputs: [:]).displayText
        let chords: [[String]]
        do {
            chords = try KeyVocabulary.chords(literal)
        } catch {
            throw args.failure(.invalidKeyChord(error.text, reason: error.reason))
        }
        if let unknown = chords.joined().first(where: { !KeyVocabulary.isKnown($0) }) {
            throw args.failure(.unknownKeyName(unknown, text: literal))
        }
    }
}
