import AsyncHTTPClient
import CyberdeskAPI
import Foundation
import Logging
import Testing

@testable import Planner

/// The bodies the adapters send: the computer tool declaring exactly the screenshot size,
/// images in place between texts, tool results in each provider's structure.
@Suite struct RequestBodyTests {
    static let screen = DisplaySize(width: 1280, height: 800)
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]
    static var pngBase64: String { Data(png).base64EncodedString() }

    static let conversation: [ConversationMessage] = [
        .user([.text("Before the image"), .image(data: png, mediaType: "image/png"), .text("After the image")]),
        .assistant(
            text: "Clicking.",
            toolCalls: [
                ToolCall(id: "call_1", name: "computer", input: ["action": "left_click", "coordinate": [10, 20]])
            ]
        ),
        .toolResults(
            [ToolResult(toolCallID: "call_1", content: [.text("clicked"), .image(data: png, mediaType: "image/png")])],
            followUp: [.text("Go on.")]),
        .assistant(
            text: nil, toolCalls: [ToolCall(id: "call_2", name: "set_output", input: ["key": "a", "value": 1])]),
        .toolResults([ToolResult(toolCallID: "call_2", content: [.text("no such key")], isError: true)]),
    ]

    static let tools = [
        CustomTool(
            name: "set_output", description: "Set an output value.",
            inputSchema: ["type": "object", "properties": ["key": ["type": "string"]], "required": ["key"]])
    ]

    static func request() -> ModelRequest {
        ModelRequest(system: "Type placeholders exactly.", messages: conversation, screen: screen, tools: tools)
    }

    func anthropic(_ params: JSONObject = [:], temperature: Double? = nil, maxTokens: Int? = nil) -> AnthropicAdapter {
        var endpoint = TestEndpoints.endpoint(.anthropic, url: nil, params: params)
        endpoint.temperature = temperature
        endpoint.maxTokens = maxTokens
        return AnthropicAdapter(endpoint: endpoint, httpClient: .shared, logger: Logger(label: "t"))
    }

    func openai(_ params: JSONObject = [:], maxTokens: Int? = nil) -> OpenAIAdapter {
        var endpoint = TestEndpoints.endpoint(.openai, url: nil, params: params)
        endpoint.maxTokens = maxTokens
        endpoint.temperature = 0.2
        return OpenAIAdapter(endpoint: endpoint, httpClient: .shared, logger: Logger(label: "t"))
    }

    @Test func anthropicDeclaresTheComputerToolWithTheExactScreenSize() {
        let body = anthropic().requestBody(for: Self.request())
        let tools = body["tools"]?.arrayValue ?? []
        #expect(
            tools.first
                == [
                    "type": "computer_20250124", "name": "computer", "display_width_px": 1280, "display_height_px": 800,
                ])
        #expect(
            tools.dropFirst().first
                == [
                    "name": "set_output", "description": "Set an output value.",
                    "input_schema": .object(Self.tools[0].inputSchema),
                ])
        #expect(body["max_tokens"] == 4096)
        #expect(body["system"] == "Type placeholders exactly.")
        #expect(body["temperature"] == nil)
        #expect(body["model"] == "claude-sonnet-4-5")
    }

    @Test func anthropicToolVersionAndTemperatureAndMaxTokens() {
        let adapter = anthropic(["tool_version": "computer_20251124"], temperature: 0.5, maxTokens: 1000)
        let body = adapter.requestBody(for: Self.request())
        #expect(body["tools"]?.arrayValue?.first?.objectValue?["type"] == "computer_20251124")
        #expect(adapter.betaHeader == "computer-use-2025-11-24")
        #expect(body["temperature"] == 0.5)
        #expect(body["max_tokens"] == 1000)
        #expect(anthropic().betaHeader == "computer-use-2025-01-24")
        #expect(
            anthropic(["beta": "computer-use-2025-01-24,token-efficient-tools-2025-02-19"]).betaHeader
                == "computer-use-2025-01-24,token-efficient-tools-2025-02-19")
    }

    @Test func anthropicMessagesKeepImagesInPlaceAndStructureToolResults() throws {
        let messages = anthropic().requestBody(for: Self.request())["messages"]?.arrayValue ?? []
        try #require(messages.count == 5)
        let image: JSONValue = [
            "type": "image", "source": ["type": "base64", "media_type": "image/png", "data": .string(Self.pngBase64)],
        ]
        #expect(
            messages[0]
                == [
                    "role": "user",
                    "content": [
                        ["type": "text", "text": "Before the image"], image,
                        ["type": "text", "text": "After the image"],
                    ],
                ])
        #expect(
            messages[1]
                == [
                    "role": "assistant",
                    "content": [
                        ["type": "text", "text": "Clicking."],
                        [
                            "type": "tool_use", "id": "call_1", "name": "computer",
                            "input": ["action": "left_click", "coordinate": [10, 20]],
                        ],
                    ],
                ])
        #expect(
            messages[2]
                == [
                    "role": "user",
                    "content": [
                        [
                            "type": "tool_result", "tool_use_id": "call_1", "is_error": false,
                            "content": [["type": "text", "text": "clicked"], image],
                        ],
                        ["type": "text", "text": "Go on."],
                    ],
                ])
        #expect(
            messages[4]
                == [
                    "role": "user",
                    "content": [
                        [
                            "type": "tool_result", "tool_use_id": "call_2", "is_error": true,
                            "content": [["type": "text", "text": "no such key"]],
                        ]
                    ],
                ])
    }

    @Test func openAIDeclaresAComputerFunctionWithTheScreenSizeInPixels() throws {
        let body = openai().requestBody(for: Self.request())
        let tools = body["tools"]?.arrayValue ?? []
        let computer = try #require(tools.first?.objectValue?["function"]?.objectValue)
        #expect(computer["name"] == "computer")
        let description = try #require(computer["description"]?.stringValue)
        #expect(description.contains("1280x800 pixels"))
        let properties = try #require(computer["parameters"]?.objectValue?["properties"]?.objectValue)
        #expect(properties["action"]?.objectValue?["enum"] == .array(ComputerAction.actionNames.map { .string($0) }))
        for field in ["coordinate", "start_coordinate", "text", "scroll_direction", "scroll_amount", "duration"] {
            #expect(properties[field] != nil, "no \(field) in the computer function")
        }
        #expect(
            tools.dropFirst().first
                == [
                    "type": "function",
                    "function": [
                        "name": "set_output", "description": "Set an output value.",
                        "parameters": .object(Self.tools[0].inputSchema),
                    ],
                ])
        #expect(body["max_tokens"] == nil)
        #expect(body["temperature"] == 0.2)
        #expect(openai(maxTokens: 300).requestBody(for: Self.request())["max_tokens"] == 300)
    }

    @Test func reasoningModelsGetMaxCompletionTokens() throws {
        let adapter = openai(["max_tokens_param": "max_completion_tokens"], maxTokens: 500)
        let body = adapter.requestBody(for: Self.request())
        #expect(body["max_completion_tokens"] == 500)
        #expect(body["max_tokens"] == nil)
        let ping = RecordedRequest(path: "", query: "", headers: [:], body: try adapter.validationRequest().body).json
        #expect(ping["max_completion_tokens"] == 1)
    }

    @Test func openAINormalizedCoordinatesAreDescribed() throws {
        let body = openai(["coordinate_space": "normalized_1000"]).requestBody(for: Self.request())
        let description = body["tools"]?.arrayValue?.first?.objectValue?["function"]?.objectValue?["description"]?
            .stringValue
        #expect(description?.contains("0-1000") == true)
        #expect(description?.contains("pixels from the top-left") == false)
    }

    @Test func openAIMessagesPutScreenshotsInAUserMessageAfterTheToolMessages() throws {
        let messages = openai().requestBody(for: Self.request())["messages"]?.arrayValue ?? []
        let image: JSONValue = [
            "type": "image_url", "image_url": ["url": .string("data:image/png;base64,\(Self.pngBase64)")],
        ]
        // system, user, assistant, tool, user (screenshot + follow-up), assistant, tool: the last
        // result has no image, so no user message follows it.
        try #require(messages.count == 7)
        #expect(messages[0] == ["role": "system", "content": "Type placeholders exactly."])
        #expect(
            messages[1]
                == [
                    "role": "user",
                    "content": [
                        ["type": "text", "text": "Before the image"], image,
                        ["type": "text", "text": "After the image"],
                    ],
                ])
        #expect(
            messages[2]
                == [
                    "role": "assistant", "content": "Clicking.",
                    "tool_calls": [
                        [
                            "id": "call_1", "type": "function",
                            "function": [
                                "name": "computer", "arguments": #"{"action":"left_click","coordinate":[10,20]}"#,
                            ],
                        ]
                    ],
                ])
        #expect(messages[3].objectValue?["role"] == "tool")
        #expect(messages[3].objectValue?["tool_call_id"] == "call_1")
        #expect(messages[3].objectValue?["content"]?.stringValue?.hasPrefix("clicked") == true)
        #expect(
            messages[4]
                == [
                    "role": "user",
                    "content": [
                        ["type": "text", "text": "Screenshot after tool call call_1:"], image,
                        ["type": "text", "text": "Go on."],
                    ],
                ])
        #expect(messages[5].objectValue?["content"] == .null)
        #expect(messages[6] == ["role": "tool", "tool_call_id": "call_2", "content": "Error: no such key"])
    }

    @Test(arguments: [
        ("https://api.openai.com", "https://api.openai.com/v1/chat/completions"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/chat/completions"),
        ("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1/chat/completions"),
        ("http://ollama:11434/", "http://ollama:11434/v1/chat/completions"),
    ])
    func openAIURLs(base: String, url: String) throws {
        #expect(try openai(["base_url": .string(base)]).url() == url)
    }

    @Test func azureURLAndKeyHeader() throws {
        let adapter = openai(["base_url": "https://acme.openai.azure.com", "api_version": "2024-10-21"])
        #expect(
            try adapter.url()
                == "https://acme.openai.azure.com/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21")
        #expect(adapter.headers().map(\.name) == ["api-key"])
        #expect(openai().headers().map(\.name) == ["authorization"])
        #expect(openai().headers().first?.value == "Bearer \(TestEndpoints.apiKey)")
    }

    @Test func anthropicURLsAndHeaders() throws {
        #expect(try anthropic().url() == "https://api.anthropic.com/v1/messages")
        #expect(try anthropic(["base_url": "http://127.0.0.1:9/"]).url() == "http://127.0.0.1:9/v1/messages")
        let headers = Dictionary(uniqueKeysWithValues: anthropic().headers(beta: true).map { ($0.name, $0.value) })
        #expect(
            headers == [
                "anthropic-version": "2023-06-01", "x-api-key": TestEndpoints.apiKey,
                "anthropic-beta": "computer-use-2025-01-24",
            ])
    }

    @Test func aBadBaseURLIsAnInvalidConfiguration() {
        #expect(
            throws: ModelError.invalidConfiguration(
                configuration: "test-openai",
                detail: "additional_params.base_url 'ftp://x' is not an http:// or https:// URL")
        ) {
            try openai(["base_url": "ftp://x"]).url()
        }
        #expect(throws: ModelError.self) { try anthropic(["base_url": 3]).url() }
    }

    @Test func misreadableAdditionalParamsAreRefusedBeforeAnyCall() {
        for params: JSONObject in [
            ["coordinate_space": "normalised"], ["max_image_long_side": "big"], ["max_image_long_side": 0],
        ] {
            #expect(throws: ModelError.self) { try openai(params).wireRequest(for: Self.request()) }
            #expect(throws: ModelError.self) { try anthropic(params).wireRequest(for: Self.request()) }
        }
        #expect(throws: Never.self) {
            try openai(["coordinate_space": "normalized_1000", "max_image_long_side": 1024]).wireRequest(
                for: Self.request())
        }
    }

    @Test func theEndpointParsesComputerCallsInItsCoordinateSpace() throws {
        let endpoint = TestEndpoints.endpoint(.openai, url: nil, params: ["coordinate_space": "normalized_1000"])
        #expect(
            try endpoint.computerAction(["action": "mouse_move", "coordinate": [500, 500]], screen: Self.screen)
                == .mouseMove(ModelPoint(x: 640, y: 400)))
    }

    @Test func validationRequestsAreTinyAndHaveNoTools() throws {
        for wire in [try anthropic().validationRequest(), try openai().validationRequest()] {
            let body = RecordedRequest(path: "", query: "", headers: [:], body: wire.body).json
            #expect(body["max_tokens"] == 1)
            #expect(body["messages"] == [["role": "user", "content": "ping"]])
            #expect(body["tools"] == nil)
        }
    }
}
