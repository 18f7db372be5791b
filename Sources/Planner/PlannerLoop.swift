import CyberdeskAPI

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The limits of one model-performed run (PLANNER.md), from the model configuration's
/// `additional_params` where given.
public struct PlannerLimits: Sendable, Hashable {
    /// Steps the machine executes for the model (`max_steps`).
    public var maxSteps = 100
    /// Input plus output tokens over the run (`max_total_tokens`).
    public var maxTotalTokens = 2_000_000
    /// From the run's start (`max_run_seconds`).
    public var maxWallSeconds = 3600.0
    /// The same tool calls on an unchanged screen this many times end the run.
    public var repeatLimit = 5
    /// Answers in a row whose every tool call was invalid.
    public var invalidLimit = 3
    /// Screenshots sent inline; older ones are replaced by a note (they cost tokens).
    public var screenshotsKept = 3

    public init() {}

    public init(additionalParams: JSONObject) {
        if let value = additionalParams["max_steps"]?.intValue, value > 0 { maxSteps = Int(value) }
        if let value = additionalParams["max_total_tokens"]?.intValue, value > 0 { maxTotalTokens = Int(value) }
        if let value = additionalParams["max_run_seconds"]?.doubleValue, value > 0 { maxWallSeconds = value }
        if let value = additionalParams["screenshots_kept"]?.intValue, value > 0 { screenshotsKept = Int(value) }
    }
}

/// What one `plan` call needs besides the state and the agent's request.
public struct PlanContext: Sendable {
    public var endpoint: ModelEndpoint
    /// The workflow's prompt with the run's inputs substituted (`{$name}` left as written) and
    /// its images in place.
    public var prompt: [ContentPart]
    /// Input values (never secrets), for writing typed values back as `{name}`.
    public var inputs: JSONObject
    public var sensitiveNames: Set<String>
    /// The workflow's `output_schema` as text, for the system prompt.
    public var outputSchemaText: String?
    /// The violations of `output_schema` by the given `output_data` (empty when it fits).
    public var checkOutput: @Sendable (JSONObject) -> [String]
    public var limits: PlannerLimits
    /// Since the run started.
    public var elapsedSeconds: Double
    /// SHA-256 of the screenshot in the request (an unchanged screen has the same one).
    public var screenshotDigest: String
    /// A run image's PNG by id.
    public var loadImage: @Sendable (String) async throws -> [UInt8]
    public var timestamp: String
    /// Replaces the run's secret values in text the machine sends back (a command's output, a
    /// file, the clipboard) by their placeholders, before it is kept or sent to the model: a
    /// secret the model typed may come back that way.
    public var redact: @Sendable (String) -> String = { $0 }

    public init(
        endpoint: ModelEndpoint, prompt: [ContentPart], inputs: JSONObject, sensitiveNames: Set<String>,
        outputSchemaText: String?, checkOutput: @escaping @Sendable (JSONObject) -> [String], limits: PlannerLimits,
        elapsedSeconds: Double, screenshotDigest: String,
        loadImage: @escaping @Sendable (String) async throws -> [UInt8],
        timestamp: String, redact: @escaping @Sendable (String) -> String = { $0 }
    ) {
        self.redact = redact
        self.endpoint = endpoint
        self.prompt = prompt
        self.inputs = inputs
        self.sensitiveNames = sensitiveNames
        self.outputSchemaText = outputSchemaText
        self.checkOutput = checkOutput
        self.limits = limits
        self.elapsedSeconds = elapsedSeconds
        self.screenshotDigest = screenshotDigest
        self.loadImage = loadImage
        self.timestamp = timestamp
    }
}

/// What a `plan` call answers and records.
public struct PlanOutcome: Sendable {
    public var response: PlanResponse
    /// History events (`run_message_history`): what the model said and did.
    public var events: [JSONObject]

    public init(response: PlanResponse, events: [JSONObject]) {
        self.response = response
        self.events = events
    }
}

/// The loop of a model-performed run, one step of it per `plan` call: the previous steps'
/// results go back to the model with the new screenshot, the model's tool calls become the
/// next steps (STEPS.md vocabulary, screen coordinates), and the executed ones are appended
/// to the run's trajectory. No HTTP server and no store here: the control plane loads and
/// saves ``PlannerState`` around each call.
public enum PlannerLoop {
    public static func advance(
        state: inout PlannerState, request: PlanRequest, context: PlanContext, model: any ModelAdapter
    ) async -> PlanOutcome {
        var events: [JSONObject] = []
        let screenshot = StoredPart.image(request.imageID)
        if state.messages.isEmpty {
            let note = state.handoverNote.map { [StoredPart.text($0)] } ?? []
            state.messages.append(StoredMessage(role: .user, parts: [.prompt] + note + [screenshot]))
            state.dimensions = request.screen
        } else if !state.pending.isEmpty {
            state.messages.append(toolResults(&state, request: request, screenshot: screenshot, context: context))
        } else {
            state.messages.append(StoredMessage(role: .user, parts: [.text("The screen now:"), screenshot]))
        }

        func end(_ status: RunStatus, _ errors: [String]) -> PlanOutcome {
            PlanOutcome(response: PlanResponse(steps: [], end: PlanEnd(status: status, errors: errors)), events: events)
        }
        let limits = context.limits
        let name = context.endpoint.name
        if state.stepsExecuted >= limits.maxSteps {
            return end(
                .error,
                [
                    "model configuration '\(name)': the model did not finish within \(limits.maxSteps) steps "
                        + "(additional_params.max_steps)"
                ])
        }
        if state.totalTokens >= limits.maxTotalTokens {
            return end(
                .error,
                [
                    "model configuration '\(name)': the run used \(state.totalTokens) tokens, over its limit of "
                        + "\(limits.maxTotalTokens) (additional_params.max_total_tokens)"
                ])
        }
        if context.elapsedSeconds >= limits.maxWallSeconds {
            return end(
                .error,
                [
                    "model configuration '\(name)': the run took longer than \(Int(limits.maxWallSeconds)) s "
                        + "(additional_params.max_run_seconds)"
                ])
        }

        while true {
            let turn: ModelTurn
            do {
                let modelRequest = try await self.request(state: state, request: request, context: context)
                turn = try await model.complete(modelRequest)
            } catch ModelError.cancelled {
                return end(.cancelled, ["cancelled while the model was choosing a step"])
            } catch let error as ModelError {
                return end(.error, [error.message])
            } catch is CancellationError {
                return end(.cancelled, ["cancelled while the model was choosing a step"])
            } catch {
                return end(.error, ["model configuration '\(name)': \(error)"])
            }
            state.turns += 1
            ModelUsage.count(turn, of: context.endpoint, in: &state.usage)
            let calls = turn.toolCalls.map { StoredToolCall(id: $0.id, name: $0.name, input: $0.input) }
            state.messages.append(
                StoredMessage(role: .assistant, parts: turn.text.isEmpty ? [] : [.text(turn.text)], toolCalls: calls))
            events.append(turnEvent(turn, state: state, request: request, context: context))

            if turn.toolCalls.isEmpty {
                let violations = context.checkOutput(request.outputData)
                if violations.isEmpty { return end(.success, []) }
                let problem = context.redact(violations.joined(separator: "; "))
                if state.reasked {
                    return end(.taskFailed, ["output_data does not match the workflow's output_schema: \(problem)"])
                }
                state.reasked = true
                state.messages.append(
                    StoredMessage(
                        role: .user,
                        parts: [
                            .text(
                                "The output_data so far does not match the workflow's output_schema: \(problem). "
                                    + "Fix it with set_output, then end your turn."),
                            screenshot,
                        ]))
                continue
            }

            var steps: [JSONValue] = []
            var pending: [PendingCall] = []
            var invalid: [String] = []
            for call in turn.toolCalls {
                var waiting = PendingCall(id: call.id, name: call.name, input: call.input)
                // After an invalid call nothing of the answer runs: an action meant for a point
                // the model got wrong could otherwise be followed by typing into what has focus.
                if !invalid.isEmpty {
                    waiting.answer = "not executed: an earlier tool call of the same answer was invalid"
                    waiting.isError = true
                    pending.append(waiting)
                    continue
                }
                switch mapCall(call, request: request, context: context) {
                case .steps(let mapped):
                    waiting.stepIndices = Array(
                        state.nextStepIndex + steps.count..<state.nextStepIndex + steps.count + mapped.count)
                    steps += mapped
                case .answer(let text):
                    waiting.answer = text
                case .invalid(let text):
                    waiting.answer = text
                    waiting.isError = true
                    invalid.append("\(call.name): \(text)")
                }
                pending.append(waiting)
            }
            if steps.isEmpty, !invalid.isEmpty {
                state.invalidStreak += 1
                if state.invalidStreak >= limits.invalidLimit {
                    return end(
                        .error,
                        [
                            "model configuration '\(name)': \(state.invalidStreak) answers in a row with only invalid "
                                + "tool calls; the last: \(invalid.joined(separator: "; "))"
                        ])
                }
            } else {
                state.invalidStreak = 0
            }
            let signature = Self.signature(turn.toolCalls) + "@" + context.screenshotDigest
            state.repeatCount = signature == state.lastSignature ? state.repeatCount + 1 : 1
            state.lastSignature = signature
            if state.repeatCount >= limits.repeatLimit {
                return end(
                    .error,
                    [
                        "model configuration '\(name)': the model repeated the same action \(state.repeatCount) times "
                            + "on an unchanged screen (\(Self.describe(turn.toolCalls)))"
                    ])
            }
            state.pending = pending
            state.sentSteps = [:]
            for (offset, step) in steps.enumerated() { state.sentSteps[state.nextStepIndex + offset] = step }
            state.nextStepIndex += steps.count
            return PlanOutcome(response: PlanResponse(steps: steps, end: nil), events: events)
        }
    }

    // MARK: - Results of the previous answer

    /// The previous tool calls' results (the screenshot after them on the last one), and
    /// the executed steps appended to the trajectory.
    static func toolResults(
        _ state: inout PlannerState, request: PlanRequest, screenshot: StoredPart, context: PlanContext
    ) -> StoredMessage {
        var byIndex: [Int: PlannedStepResult] = [:]
        for result in request.results { byIndex[result.stepIndex] = result }
        for result in request.results.sorted(by: { $0.stepIndex < $1.stepIndex }) where result.status != "skipped" {
            state.stepsExecuted += 1
            guard result.status == "success", let sent = state.sentSteps[result.stepIndex] else { continue }
            var step = PlannerTools.templated(sent, inputs: context.inputs, secrets: context.sensitiveNames)
            if let checkpoint = result.checkpoint, case .object(var object) = step {
                object["checkpoint"] = .object(checkpoint)
                step = .object(object)
            }
            state.trajectory.append(step)
        }
        var results: [StoredToolResult] = []
        for call in state.pending {
            let (text, isError) = resultText(call, byIndex: byIndex, outputData: request.outputData)
            results.append(
                StoredToolResult(toolCallID: call.id, parts: [.text(context.redact(text))], isError: isError))
        }
        if !results.isEmpty { results[results.count - 1].parts.append(screenshot) }
        state.pending = []
        state.sentSteps = [:]
        return StoredMessage(role: .toolResults, results: results)
    }

    static func resultText(_ call: PendingCall, byIndex: [Int: PlannedStepResult], outputData: JSONObject) -> (
        String, Bool
    ) {
        if let answer = call.answer { return (answer, call.isError) }
        let results = call.stepIndices.compactMap { byIndex[$0] }
        guard results.count == call.stepIndices.count else {
            return ("not executed: the machine did not report it", true)
        }
        if let failed = results.first(where: { $0.status == "task_failed" }) {
            return ("failed: \(failed.error ?? "the step failed")", true)
        }
        if results.contains(where: { $0.status != "success" }) {
            return ("not executed: an earlier action of the same answer failed", true)
        }
        let last = results.last?.result ?? [:]
        func output(_ key: String) -> String {
            guard let name = call.input[key]?.stringValue, let value = outputData[name] else { return "" }
            return Self.truncated(value.stringValue ?? value.templateText)
        }
        switch call.name {
        case "execute_terminal_command":
            let code = last["exit_code"]?.intValue ?? 0
            let stdout = last["stdout"]?.stringValue ?? ""
            let stderr = last["stderr"]?.stringValue ?? ""
            return ("exit code \(code)\nstdout:\n\(stdout)" + (stderr.isEmpty ? "" : "\nstderr:\n\(stderr)"), false)
        case "read_file": return (output("output_key"), false)
        case "copy_to_clipboard": return (output("key"), false)
        default: return ("done", false)
        }
    }

    static func truncated(_ text: String, limit: Int = 20_000) -> String {
        text.utf8.count <= limit ? text : String(decoding: text.utf8.prefix(limit), as: UTF8.self) + "… (truncated)"
    }

    // MARK: - The model's request

    static func systemPrompt(screen: DisplaySize, context: PlanContext) -> String {
        var text = """
            You operate a Linux desktop through the computer tool to perform the task the user gives. \
            The screen is \(screen.width)x\(screen.height) pixels: each screenshot you get shows all of it, and \
            coordinates are pixels of that screenshot. After your actions you get a new screenshot.
            Sensitive values appear only as placeholders such as {$password}: to enter one, type the \
            placeholder exactly as written with the type action (for example type "{$password}"). The \
            machine fills in the real value as it types; you never see it, and must not try to read it back.
            Report results with set_output, one call per output field. If the task cannot be done, call fail \
            with the reason. When the task is done, answer without calling a tool.
            """
        if let schema = context.outputSchemaText, !schema.isEmpty {
            text += "\nThe output_data must match this JSON Schema: \(schema)"
        }
        return text
    }

    static func request(state: PlannerState, request: PlanRequest, context: PlanContext) async throws -> ModelRequest {
        // Only the newest screenshots go inline.
        var imageIDs: [String] = []
        for message in state.messages {
            for part in message.parts + message.results.flatMap(\.parts) {
                if let id = part.imageID { imageIDs.append(id) }
            }
        }
        let kept = Set(imageIDs.suffix(context.limits.screenshotsKept))
        var loaded: [String: [UInt8]] = [:]
        for id in kept { loaded[id] = try await context.loadImage(id) }
        func content(_ parts: [StoredPart]) -> [ContentPart] {
            parts.flatMap { part -> [ContentPart] in
                if part.prompt == true { return context.prompt }
                if let id = part.imageID {
                    guard let data = loaded[id] else { return [.text("(an earlier screenshot, omitted)")] }
                    return [.image(data: data, mediaType: "image/png")]
                }
                return [.text(part.text ?? "")]
            }
        }
        var messages: [ConversationMessage] = []
        for message in state.messages {
            switch message.role {
            case .user:
                messages.append(.user(content(message.parts)))
            case .assistant:
                messages.append(
                    .assistant(
                        text: message.parts.compactMap(\.text).joined(separator: "\n").nilIfEmpty,
                        toolCalls: message.toolCalls.map { ToolCall(id: $0.id, name: $0.name, input: $0.input) }))
            case .toolResults:
                messages.append(
                    .toolResults(
                        message.results.map {
                            ToolResult(toolCallID: $0.toolCallID, content: content($0.parts), isError: $0.isError)
                        }, followUp: content(message.parts)))
            }
        }
        return ModelRequest(
            system: systemPrompt(screen: request.imageSize, context: context), messages: messages,
            screen: request.imageSize, tools: PlannerTools.custom)
    }

    // MARK: - Tool calls → steps

    enum Mapped {
        case steps([JSONValue])
        /// Known without the machine (a screenshot, the cursor position).
        case answer(String)
        /// Told to the model as an error; nothing is executed.
        case invalid(String)
    }

    static func mapCall(_ call: ToolCall, request: PlanRequest, context: PlanContext) -> Mapped {
        let steps: [JSONValue]
        if call.name == "computer" {
            let action: ComputerAction
            do {
                action = try context.endpoint.computerAction(call.input, screen: request.imageSize)
            } catch {
                return .invalid(error.message)
            }
            let mapped = ComputerMapping.steps(for: action, request: request, secrets: context.sensitiveNames)
            guard case .steps(let computerSteps) = mapped else { return mapped }
            steps = computerSteps
        } else if PlannerTools.customNames.contains(call.name) {
            var input = call.input
            // A model's waits and command timeouts are bounded like the computer tool's waits,
            // and never beyond the run's time left.
            let left = max(1, context.limits.maxWallSeconds - context.elapsedSeconds)
            if call.name == "wait", let seconds = input["seconds"]?.doubleValue {
                input["seconds"] = .double(min(max(seconds, 0), 60))
            }
            if call.name == "execute_terminal_command" {
                let timeout = input["timeout"]?.doubleValue ?? 30
                input["timeout"] = .double(min(max(timeout, 1), 600, left))
            }
            steps = [["func_name": .string(call.name), "kwargs": PlannerTools.escapedJSON(.object(input))]]
        } else {
            return .invalid(
                "unknown tool '\(call.name)'; the tools are computer, \(PlannerTools.customNames.joined(separator: ", "))"
            )
        }
        do {
            _ = try Trajectory.validate(steps)
        } catch {
            return .invalid("\(error)")
        }
        return .steps(steps)
    }

    // MARK: - History

    static func turnEvent(_ turn: ModelTurn, state: PlannerState, request: PlanRequest, context: PlanContext)
        -> JSONObject
    {
        [
            "type": "model_turn", "role": "assistant", "iteration_index": .int(Int64(state.turns)),
            "model_configuration_id": .string(context.endpoint.configurationID),
            "model": .string(context.endpoint.model), "text": .string(turn.text),
            "tool_calls": .array(
                turn.toolCalls.map {
                    ["id": .string($0.id), "name": .string($0.name), "input": .object($0.input)] as JSONValue
                }),
            "ended_turn": .bool(turn.endedTurn),
            "usage": [
                "input_tokens": .int(Int64(turn.usage.inputTokens)),
                "output_tokens": .int(Int64(turn.usage.outputTokens)),
                "attempts": .int(Int64(turn.attempts)),
            ],
            "image_id": .string(request.imageID), "at": .string(context.timestamp),
        ]
    }

    static func signature(_ calls: [ToolCall]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let pairs: [JSONValue] = calls.map { [.string($0.name), .object($0.input)] }
        return (try? encoder.encode(JSONValue.array(pairs))).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    static func describe(_ calls: [ToolCall]) -> String {
        calls.map { call in
            let action = call.input["action"]?.stringValue.map { " \($0)" } ?? ""
            return call.name + action
        }.joined(separator: ", ")
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
