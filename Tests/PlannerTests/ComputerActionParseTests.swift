import CyberdeskAPI
import Foundation
import Testing

@testable import Planner

@Suite struct ComputerActionParseTests {
    static let screen = DisplaySize(width: 1280, height: 800)

    func parse(_ input: JSONObject, space: CoordinateSpace = .pixels) throws -> ComputerAction {
        try ComputerAction.parse(input, screen: Self.screen, space: space, configuration: "cfg")
    }

    @Test(
        arguments: [
            (["action": "screenshot"], ComputerAction.screenshot),
            (["action": "cursor_position"], .cursorPosition),
            (
                ["action": "left_click", "coordinate": [100, 200]],
                .click(button: .left, clicks: 1, at: ModelPoint(x: 100, y: 200), modifiers: nil)
            ),
            (["action": "left_click"], .click(button: .left, clicks: 1, at: nil, modifiers: nil)),
            (
                ["action": "right_click", "coordinate": [1, 2], "text": "shift"],
                .click(button: .right, clicks: 1, at: ModelPoint(x: 1, y: 2), modifiers: "shift")
            ),
            (
                ["action": "middle_click", "coordinate": [1, 2]],
                .click(button: .middle, clicks: 1, at: ModelPoint(x: 1, y: 2), modifiers: nil)
            ),
            (
                ["action": "double_click", "coordinate": [3.5, 4]],
                .click(button: .left, clicks: 2, at: ModelPoint(x: 3.5, y: 4), modifiers: nil)
            ),
            (
                ["action": "triple_click", "coordinate": [3, 4]],
                .click(button: .left, clicks: 3, at: ModelPoint(x: 3, y: 4), modifiers: nil)
            ),
            (["action": "mouse_move", "coordinate": [5, 6]], .mouseMove(ModelPoint(x: 5, y: 6))),
            (
                ["action": "left_click_drag", "start_coordinate": [1, 2], "coordinate": [30, 40]],
                .drag(from: ModelPoint(x: 1, y: 2), to: ModelPoint(x: 30, y: 40))
            ),
            (["action": "left_mouse_down"], .mouseDown(nil)),
            (["action": "left_mouse_up", "coordinate": [7, 8]], .mouseUp(ModelPoint(x: 7, y: 8))),
            (
                ["action": "scroll", "coordinate": [9, 10], "scroll_direction": "down", "scroll_amount": 3],
                .scroll(direction: .down, amount: 3, at: ModelPoint(x: 9, y: 10), modifiers: nil)
            ),
            (["action": "type", "text": "{$ehr_password}"], .type("{$ehr_password}")),
            (["action": "key", "text": "ctrl+s"], .key("ctrl+s")),
            (["action": "hold_key", "text": "shift", "duration": 1.5], .holdKey("shift", seconds: 1.5)),
            (["action": "wait", "duration": 2], .wait(seconds: 2)),
        ] as [(JSONObject, ComputerAction)])
    func parsesTheAnthropicVocabulary(input: JSONObject, expected: ComputerAction) throws {
        #expect(try parse(input) == expected)
    }

    @Test func normalizedCoordinatesBecomePixelsOfTheScreen() throws {
        #expect(
            try parse(["action": "left_click", "coordinate": [500, 250]], space: .normalized1000)
                == .click(button: .left, clicks: 1, at: ModelPoint(x: 640, y: 200), modifiers: nil))
        #expect(
            try parse(
                ["action": "left_click_drag", "start_coordinate": [0, 0], "coordinate": [1000, 1000]],
                space: .normalized1000)
                == .drag(from: ModelPoint(x: 0, y: 0), to: ModelPoint(x: 1280, y: 800)))
    }

    @Test func pointsOutsideTheScreenAreKeptForTheLoopToReport() throws {
        #expect(
            try parse(["action": "left_click", "coordinate": [5000, -3]])
                == .click(button: .left, clicks: 1, at: ModelPoint(x: 5000, y: -3), modifiers: nil))
    }

    @Test(
        arguments: [
            (["coordinate": [1, 2]], "no 'action'"),
            (["action": 3], "'action'"),
            (["action": "zoom"], "unknown computer action 'zoom'"),
            (["action": "mouse_move"], "'coordinate'"),
            (["action": "left_click", "coordinate": [1]], "'coordinate'"),
            (["action": "left_click", "coordinate": "100,200"], "'coordinate'"),
            (["action": "left_click_drag", "coordinate": [1, 2]], "'start_coordinate'"),
            (["action": "type"], "'text'"),
            (["action": "type", "text": 5], "'text'"),
            (["action": "scroll", "scroll_direction": "sideways", "scroll_amount": 1], "'scroll_direction'"),
            (["action": "scroll", "scroll_direction": "up"], "'scroll_amount'"),
            (["action": "scroll", "scroll_direction": "up", "scroll_amount": 1.5], "'scroll_amount'"),
            (["action": "wait"], "'duration'"),
            (["action": "hold_key", "text": "a", "duration": "long"], "'duration'"),
        ] as [(JSONObject, String)])
    func badInputIsMalformedNamingTheField(input: JSONObject, field: String) {
        #expect {
            try parse(input)
        } throws: { error in
            guard case .malformed(let configuration, let detail) = error as? ModelError else { return false }
            return configuration == "cfg" && detail.contains(field)
        }
    }
}

@Suite struct ModelScreenTests {
    @Test(arguments: [
        (1920, 1080, 1280, 720),
        (1280, 800, 1280, 800),
        (800, 600, 800, 600),
        (1366, 768, 1280, 720),
        (1080, 1920, 720, 1280),
        (3840, 2160, 1280, 720),
    ])
    func scalesTheLongestSideTo1280WithoutUpscaling(width: Int, height: Int, expectedWidth: Int, expectedHeight: Int) {
        #expect(
            ModelEndpoint.modelScreen(for: DisplaySize(width: width, height: height), additionalParams: [:])
                == DisplaySize(width: expectedWidth, height: expectedHeight))
    }

    @Test func maxImageLongSideFromAdditionalParams() {
        let native = DisplaySize(width: 2560, height: 1440)
        #expect(
            ModelEndpoint.modelScreen(for: native, additionalParams: ["max_image_long_side": 1024])
                == DisplaySize(width: 1024, height: 576))
        #expect(
            ModelEndpoint.modelScreen(for: native, additionalParams: ["max_image_long_side": "1920"])
                == DisplaySize(width: 1920, height: 1080))
        #expect(
            ModelEndpoint.modelScreen(for: native, additionalParams: ["max_image_long_side": -5])
                == DisplaySize(width: 1280, height: 720))
    }

    @Test func coordinateSpaceFromAdditionalParams() {
        #expect(TestEndpoints.endpoint(.openai, url: nil).coordinateSpace == .pixels)
        #expect(
            TestEndpoints.endpoint(.openai, url: nil, params: ["coordinate_space": "normalized_1000"]).coordinateSpace
                == .normalized1000)
    }
}

@Suite struct RetryPolicyTests {
    @Test func backoffDoublesFromOneSecondUpToThirtyWithJitterInTheUpperHalf() {
        let high = RetryPolicy(jitter: { 1 })
        #expect((1...7).map { high.delay(beforeRetry: $0, retryAfter: nil) } == [1, 2, 4, 8, 16, 30, 30])
        let low = RetryPolicy(jitter: { 0 })
        #expect(low.delay(beforeRetry: 3, retryAfter: nil) == 2)
    }

    @Test func retryAfterIsHonouredUpToSixtySeconds() {
        let policy = RetryPolicy(now: { Date(timeIntervalSince1970: 784_111_767) })  // Sun, 06 Nov 1994 08:49:27 GMT
        #expect(policy.retryAfterSeconds("7") == 7)
        #expect(policy.retryAfterSeconds("Sun, 06 Nov 1994 08:49:37 GMT") == 10)
        #expect(policy.retryAfterSeconds("soon") == nil)
        #expect(policy.delay(beforeRetry: 1, retryAfter: 7) == 7)
        #expect(policy.delay(beforeRetry: 1, retryAfter: 600) == 60)
    }

    @Test func theKeyAndWordsHoldingPartsOfItAreRedacted() {
        let key = TestEndpoints.apiKey
        let redactor = Redactor(secret: key)
        let text = redactor.redact("Incorrect API key provided: sk-test-SE***XYZ. You sent \(key).")
        #expect(!text.contains(key))
        #expect(!text.contains("sk-test-"))
        #expect(text.contains("Incorrect API key provided"))
    }
}
