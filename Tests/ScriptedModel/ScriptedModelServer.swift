import CyberdeskAPI
import Desktop
import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The counters shared by all requests: faults served so far, request numbers, answer ids.
actor ScriptedModelState {
    private var faultsServed = 0
    private var requests = 0
    private var answers = 0

    func nextRequestNumber() -> Int {
        requests += 1
        return requests
    }

    func nextAnswerNumber() -> Int {
        answers += 1
        return answers
    }

    /// The fault this request gets, while the script's faults last.
    func nextFault(_ faults: [Script.Fault]) -> Script.Fault? {
        var remaining = faultsServed
        for fault in faults {
            if remaining < fault.times {
                faultsServed += 1
                return fault
            }
            remaining -= fault.times
        }
        return nil
    }
}

/// The HTTP side: `POST /v1/messages` (Anthropic), `POST /v1/chat/completions` (OpenAI),
/// `GET /health`. Each answer is in the wire format of the path it was called on.
struct ScriptedModelServer: Sendable {
    var script: Script
    var apiKey: String?
    var requestsDir: String?
    var normalized: Bool
    var thinkTime: Double
    var state = ScriptedModelState()
    var logger: Logger

    func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("health") { _, _ in Self.json(["status": "ok"], status: .ok) }
        router.post("v1/messages") { request, _ in await handle(request, format: .anthropic) }
        router.post("v1/chat/completions") { request, _ in await handle(request, format: .openai) }
        return router
    }

    func handle(_ request: Request, format: WireFormatName) async -> Response {
        let number = await state.nextRequestNumber()
        let body: [UInt8]
        do {
            body = Array(buffer: try await request.body.collect(upTo: 256 << 20))
        } catch {
            return Self.error(format: format, status: .contentTooLarge, type: "invalid_request_error", "body too large")
        }
        if let requestsDir {
            let name = String(format: "%04d.json", number)
            try? Data(body).write(to: URL(fileURLWithPath: requestsDir).appendingPathComponent(name))
        }
        if let apiKey, !authorized(request, format: format, key: apiKey) {
            return Self.error(
                format: format, status: .unauthorized,
                type: format == .anthropic ? "authentication_error" : "invalid_request_error",
                format == .anthropic ? "invalid x-api-key" : "Incorrect API key provided.")
        }
        if let fault = await state.nextFault(script.faults) {
            await Self.think(fault.delaySeconds)
            var response = Self.error(
                format: format, status: HTTPResponse.Status(code: fault.status),
                type: fault.status == 429 ? "rate_limit_error" : "api_error", "scripted fault \(fault.status)")
            for (name, value) in fault.headers {
                if let field = FieldName(name) { response.headers[field] = value }
            }
            return response
        }
        let conversation: WireConversation
        do {
            let value = try JSONDecoder().decode(JSONValue.self, from: Data(body))
            guard let object = value.objectValue else { throw ScriptError("not an object") }
            if let problem = WireValidator.problem(object, format: format) {
                return Self.error(format: format, status: .badRequest, type: "invalid_request_error", problem)
            }
            conversation = try WireConversation(format: format, body: object)
        } catch {
            return Self.error(
                format: format, status: .badRequest, type: "invalid_request_error", "the body is not a JSON object")
        }
        if conversation.toolNames.contains("same_state"), !conversation.toolNames.contains("computer") {
            let answer = ScreenshotReader.sameState(conversation.promptImages)
            logger.info("answer", metadata: ["request": "\(number)", "same_state": "\(answer.same)"])
            return Self.json(
                Self.encode(
                    .toolCall(
                        name: "same_state", input: ["same": .bool(answer.same), "reason": .string(answer.reason)],
                        say: nil), format: format, conversation: conversation,
                    number: await state.nextAnswerNumber(), bodyBytes: body.count),
                status: .ok)
        }
        let action = script.action(step: conversation.assistantTurns)
        let delay = thinkTime + action.delaySeconds
        await Self.think(delay)
        let answerNumber = await state.nextAnswerNumber()
        let answer = decide(action, conversation: conversation)
        logger.info(
            "answer",
            metadata: [
                "request": "\(number)", "format": "\(format.rawValue)", "step": "\(conversation.assistantTurns)",
                "answer": "\(answer.summary)",
            ])
        return Self.json(
            Self.encode(
                answer, format: format, conversation: conversation, number: answerNumber, bodyBytes: body.count),
            status: .ok)
    }

    /// Waits `seconds` unless the process is asked to stop: a test stopping a model that is
    /// "thinking" must not wait for the thought (graceful shutdown waits for open requests).
    static func think(_ seconds: Double) async {
        guard seconds > 0 else { return }
        try? await cancelWhenGracefulShutdown {
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
        }
    }

    private func authorized(_ request: Request, format: WireFormatName, key: String) -> Bool {
        switch format {
        case .anthropic:
            return request.headers[FieldName("x-api-key")!] == key
        case .openai:
            return request.headers[.authorization] == "Bearer \(key)"
                || request.headers[FieldName("api-key")!] == key
        }
    }

    /// One answer, before it is written in a wire format.
    enum Answer {
        case toolCall(name: String, input: JSONObject, say: String?)
        case end(String)
        case malformed
    }

    func decide(_ action: ScriptAction, conversation: WireConversation) -> Answer {
        let say = action.say
        func point(_ target: ColorTarget) -> Result<JSONValue, AnswerFailure> {
            guard let png = conversation.latestImage else {
                return .failure(AnswerFailure("target \(target.hex) not found: the request holds no screenshot"))
            }
            guard let image = try? RGBImage(png: png) else {
                return .failure(AnswerFailure("target \(target.hex) not found: the screenshot is not a readable PNG"))
            }
            guard let found = ScreenshotReader.locate(target, in: image) else {
                return .failure(AnswerFailure("target \(target.hex) not found"))
            }
            let (x, y) = (found.x, found.y)
            let space = conversation.declaredScreen ?? (width: image.width, height: image.height)
            if normalized || conversation.saysNormalized {
                return .success([
                    .int(Int64((Double(x) + 0.5) * 1000 / Double(image.width))),
                    .int(Int64((Double(y) + 0.5) * 1000 / Double(image.height))),
                ])
            }
            return .success([
                .int(Int64(x * space.width / image.width)), .int(Int64(y * space.height / image.height)),
            ])
        }
        func computer(_ input: JSONObject) -> Answer { .toolCall(name: "computer", input: input, say: say) }
        do {
            switch action.kind {
            case .click(let target, let button, let clicks):
                let name =
                    switch (button, clicks) {
                    case ("right", _): "right_click"
                    case ("middle", _): "middle_click"
                    case (_, 2): "double_click"
                    case (_, 3): "triple_click"
                    default: "left_click"
                    }
                return computer(["action": .string(name), "coordinate": try point(target).get()])
            case .move(let target):
                return computer(["action": "mouse_move", "coordinate": try point(target).get()])
            case .type(let text):
                return computer(["action": "type", "text": .string(try resolve(text, conversation))])
            case .key(let key):
                return computer(["action": "key", "text": .string(key)])
            case .drag(let from, let to):
                return computer([
                    "action": "left_click_drag", "start_coordinate": try point(from).get(),
                    "coordinate": try point(to).get(),
                ])
            case .scroll(let target, let direction, let amount):
                return computer([
                    "action": "scroll", "coordinate": try point(target).get(), "scroll_direction": .string(direction),
                    "scroll_amount": .int(Int64(amount)),
                ])
            case .screenshot:
                return computer(["action": "screenshot"])
            case .computer(let input):
                return computer(input)
            case .tool(let name, let input):
                return .toolCall(name: name, input: try fill(input, conversation).objectValue ?? [:], say: say)
            case .end(let text):
                return .end(text)
            case .malformed:
                return .malformed
            case .unknownTool(let name):
                return .toolCall(name: name, input: [:], say: say)
            }
        } catch {
            return .end("\(error)")
        }
    }

    struct AnswerFailure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    private func resolve(_ text: ScriptText, _ conversation: WireConversation) throws(AnswerFailure) -> String {
        switch text {
        case .literal(let value): return value
        case .quoted(let index):
            guard let value = conversation.quoted(index) else {
                throw AnswerFailure("the prompt has no «…» number \(index)")
            }
            return value
        }
    }

    /// `{"quoted": N}` anywhere in a custom tool's input, replaced by the prompt's text.
    private func fill(_ value: JSONValue, _ conversation: WireConversation) throws(AnswerFailure) -> JSONValue {
        switch value {
        case .object(let members):
            if members.count == 1, let index = members["quoted"]?.intValue {
                return .string(try resolve(.quoted(Int(index)), conversation))
            }
            var filled: JSONObject = [:]
            for (key, member) in members { filled[key] = try fill(member, conversation) }
            return .object(filled)
        case .array(let items):
            var filled: [JSONValue] = []
            for item in items { filled.append(try fill(item, conversation)) }
            return .array(filled)
        default:
            return value
        }
    }

    // MARK: Wire

    static func encode(
        _ answer: Answer, format: WireFormatName, conversation: WireConversation, number: Int, bodyBytes: Int
    ) -> JSONObject {
        let id = String(format: "%06d", number)
        let usageIn = Int64(max(1, bodyBytes / 4))
        let usageOut: Int64 = 20
        switch format {
        case .anthropic:
            var content: [JSONValue] = []
            let stop: String
            switch answer {
            case .toolCall(let name, let input, let say):
                if let say { content.append(["type": "text", "text": .string(say)]) }
                content.append([
                    "type": "tool_use", "id": .string("toolu_scripted_\(id)"), "name": .string(name),
                    "input": .object(input),
                ])
                stop = "tool_use"
            case .malformed:
                content.append([
                    "type": "tool_use", "id": .string("toolu_scripted_\(id)"), "name": "computer",
                    "input": ["coordinate": [10, 10]],
                ])
                stop = "tool_use"
            case .end(let text):
                content.append(["type": "text", "text": .string(text)])
                stop = "end_turn"
            }
            return [
                "id": .string("msg_scripted_\(id)"), "type": "message", "role": "assistant",
                "model": .string(conversation.model), "content": .array(content), "stop_reason": .string(stop),
                "stop_sequence": .null, "usage": ["input_tokens": .int(usageIn), "output_tokens": .int(usageOut)],
            ]
        case .openai:
            var message: JSONObject = ["role": "assistant", "content": .null]
            let finish: String
            switch answer {
            case .toolCall(let name, let input, let say):
                if let say { message["content"] = .string(say) }
                message["tool_calls"] = [
                    [
                        "id": .string("call_scripted_\(id)"), "type": "function",
                        "function": ["name": .string(name), "arguments": .string(JSONValue.object(input).compactJSON)],
                    ]
                ]
                finish = "tool_calls"
            case .malformed:
                message["tool_calls"] = [
                    [
                        "id": .string("call_scripted_\(id)"), "type": "function",
                        "function": [
                            "name": "computer", "arguments": "{\"action\": \"left_click\", \"coordinate\": [1",
                        ],
                    ]
                ]
                finish = "tool_calls"
            case .end(let text):
                message["content"] = .string(text)
                finish = "stop"
            }
            return [
                "id": .string("chatcmpl-scripted-\(id)"), "object": "chat.completion",
                "created": .int(Int64(Date().timeIntervalSince1970)), "model": .string(conversation.model),
                "choices": [["index": 0, "message": .object(message), "finish_reason": .string(finish)]],
                "usage": [
                    "prompt_tokens": .int(usageIn), "completion_tokens": .int(usageOut),
                    "total_tokens": .int(usageIn + usageOut),
                ],
            ]
        }
    }

    static func json(_ object: JSONObject, status: HTTPResponse.Status) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: JSONValue.object(object).compactJSON)))
    }

    /// An error in the provider's own format.
    static func error(format: WireFormatName, status: HTTPResponse.Status, type: String, _ message: String) -> Response
    {
        switch format {
        case .anthropic:
            json(["type": "error", "error": ["type": .string(type), "message": .string(message)]], status: status)
        case .openai:
            json(
                ["error": ["message": .string(message), "type": .string(type), "param": .null, "code": .null]],
                status: status)
        }
    }
}

extension ScriptedModelServer.Answer {
    var summary: String {
        switch self {
        case .toolCall(let name, let input, _):
            // Typed text is not logged: a test may type a placeholder standing for a secret.
            "\(name) \(input["action"]?.stringValue ?? "")"
        case .end(let text): "end: \(text.prefix(80))"
        case .malformed: "malformed"
        }
    }
}

/// `HTTPField.Name`, reached through the `HTTPFields` Hummingbird exports.
typealias FieldName = HTTPFields.Element.Name
