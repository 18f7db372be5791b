import CyberdeskAPI

/// Cache detection (PLANNER.md, Checkpoints and fallback): when a replayed step's checkpoint
/// does not match by pixels, the run's `cache_detection_model_id` is asked whether the screen
/// still shows the state the step was recorded in. Pixels are strict (a clock, a changed label,
/// a new theme colour fail them); a model can tell "the same dialog, another date" from "another
/// window". The answer comes through one custom tool, `same_state`, and no `computer` tool is
/// declared, so any vision model can answer.
public enum SameStateQuestion {
    public static let toolName = "same_state"

    static let system = """
        You check a recorded desktop automation before it acts. A step was recorded acting at the \
        centre of a region of the screen. You are shown that region as it was recorded, the same \
        region now, and the whole screen now. Decide whether acting there now would do what it \
        did when it was recorded: the same application, window, control and state. Ignore what \
        naturally changes (times, counters, a caret, a hover highlight); say not the same when \
        another window, dialog, control or page is there. Answer only by calling \(toolName).
        """

    static let tool = CustomTool(
        name: toolName,
        description: "Whether the screen now shows the state the step was recorded in.",
        inputSchema: [
            "type": "object",
            "properties": [
                "same": ["type": "boolean", "description": "true only if acting at the recorded place is still right"],
                "reason": ["type": "string", "description": "one short sentence"],
            ],
            "required": ["same", "reason"],
        ])

    /// The question for step `stepIndex` (`funcName`): the recorded crop, the same region now
    /// (both PNG, same size), and the whole screen now (`screenSize`, already fitted).
    public static func request(
        stepIndex: Int, funcName: String, recorded: [UInt8], current: [UInt8], screen: [UInt8], screenSize: DisplaySize
    ) -> ModelRequest {
        let png = "image/png"
        let parts: [ContentPart] = [
            .text("Step \(stepIndex) (\(funcName)). The region as recorded, just before the step acted:"),
            .image(data: recorded, mediaType: png),
            .text("The same region now:"),
            .image(data: current, mediaType: png),
            .text("The whole screen now:"),
            .image(data: screen, mediaType: png),
            .text("Does the screen still show the recorded state? Call \(toolName)."),
        ]
        return ModelRequest(
            system: system, messages: [.user(parts)], screen: screenSize, tools: [tool], computerTool: false)
    }

    /// The model's verdict. Anything but a `same_state` call with `same: true` is "not the
    /// same", with a reason saying what came instead: a replay never acts on a guess.
    public static func answer(_ turn: ModelTurn) -> (same: Bool, reason: String) {
        guard let call = turn.toolCalls.first(where: { $0.name == toolName }) else {
            let said = turn.text.isEmpty ? "" : ": \(turn.text.prefix(200))"
            return (false, "the model did not call \(toolName)\(said)")
        }
        let reason = String((call.input["reason"]?.stringValue ?? "").prefix(500))
        switch call.input["same"] {
        case .bool(let same)?: return (same, reason)
        case .string(let text)? where text.lowercased() == "true": return (true, reason)
        case .string(let text)? where text.lowercased() == "false": return (false, reason)
        default: return (false, "the model's \(toolName) call has no boolean 'same'")
        }
    }
}
