import CyberdeskAPI
import Desktop
import Recorder
import Testing

/// Synthetic events as XRecord would deliver them, with the meaning `KeyResolver` gives keys.
private struct Script {
    var time: Int64 = 1_000
    var events: [RecordedInput] = []

    mutating func after(_ ms: Int64) { time += ms }

    mutating func key(_ name: String, text: String = "", modifiers: KeyModifiers = [], composing: Bool = false) {
        let modifier = ["shift", "ctrl", "alt", "super", "altgr"].contains(name)
        events.append(
            .key(
                KeyInput(
                    time: time, keycode: 10, isPress: true, name: name, text: text, modifiers: modifiers,
                    isModifier: modifier, isComposing: composing)))
        time += 20
        events.append(.key(KeyInput(time: time, keycode: 10, isPress: false, name: name, isModifier: modifier)))
        time += 20
    }

    mutating func type(_ text: String) {
        for character in text {
            let upper = character.isUppercase
            if upper { key("shift") }
            key(String(character).lowercased(), text: String(character), modifiers: upper ? .shift : [])
        }
    }

    mutating func press(_ button: Int, _ x: Int, _ y: Int) {
        events.append(.button(ButtonInput(time: time, button: button, isPress: true, point: Point(x: x, y: y))))
        time += 30
    }

    mutating func release(_ button: Int, _ x: Int, _ y: Int) {
        events.append(.button(ButtonInput(time: time, button: button, isPress: false, point: Point(x: x, y: y))))
        time += 30
    }

    mutating func click(_ x: Int, _ y: Int, button: Int = 1) {
        press(button, x, y)
        release(button, x, y)
    }

    mutating func move(_ x: Int, _ y: Int) {
        events.append(.motion(time: time, point: Point(x: x, y: y)))
        time += 10
    }

    func coalesce(_ settings: StepCoalescer.Settings = .init()) -> (steps: [RecordedStep], stopped: Bool) {
        var coalescer = StepCoalescer(settings: settings)
        var steps: [RecordedStep] = []
        for event in events { steps += coalescer.feed(event) }
        steps += coalescer.finish()
        return (steps, coalescer.stopped)
    }
}

private func actions(_ steps: [RecordedStep]) -> [RecordedStep.Action] { steps.map(\.action) }

@Suite struct StepCoalescerTests {
    @Test func typedStretchIsOneTypeStepWithShiftLevels() {
        var script = Script()
        script.type("Hello World")
        #expect(actions(script.coalesce().steps) == [.type("Hello World")])
    }

    @Test func clickThenTypeCarriesCheckpointsBeforeEachPress() throws {
        var script = Script()
        script.move(100, 100)
        script.move(200, 150)
        let clickTime = script.time
        script.click(200, 150)
        script.after(600)
        let typeTime = script.time
        script.type("abc")
        let steps = script.coalesce().steps
        #expect(actions(steps) == [.click(Point(x: 200, y: 150), button: .left, clicks: 1), .type("abc")])
        #expect(steps[0].checkpoint == CheckpointRequest(point: Point(x: 200, y: 150), time: clickTime))
        #expect(steps[1].checkpoint == CheckpointRequest(point: Point(x: 200, y: 150), time: typeTime))
    }

    @Test func typeNotAfterAClickHasNoCheckpoint() {
        var script = Script()
        script.key("Return", modifiers: [])
        script.type("x")
        let steps = script.coalesce().steps
        #expect(actions(steps) == [.key("Return"), .type("x")])
        #expect(steps[1].checkpoint == nil)
    }

    @Test func chordsUseXdotoolSyntaxAndConsecutiveKeysJoin() {
        var script = Script()
        script.key("ctrl")
        script.key("a", text: "\u{1}", modifiers: .ctrl)
        script.key("c", text: "\u{3}", modifiers: .ctrl)
        script.key("t", text: "T", modifiers: [.ctrl, .shift])
        script.key("tab")
        script.key("tab", modifiers: .shift)
        script.key("f4", modifiers: .alt)
        script.key("enter")
        script.type("ok")
        #expect(
            actions(script.coalesce().steps) == [
                .key("ctrl+a ctrl+c ctrl+shift+t tab shift+tab alt+f4 enter"), .type("ok"),
            ])
    }

    @Test func altGrLevelsAndComposedCharactersAreText() {
        var script = Script()
        script.key("altgr")
        script.key("q", text: "@")  // AltGr is not a chord maker: it picks a level
        script.key("dead_circumflex", composing: true)
        script.key("e", text: "ê")
        script.key("udiaeresis", text: "ü")
        #expect(actions(script.coalesce().steps) == [.type("@êü")])
    }

    @Test func backspaceCorrectsTheStretchItFollows() {
        var script = Script()
        script.type("helo")
        script.key("backspace")
        script.type("lo")
        script.key("enter")
        script.key("backspace")
        #expect(actions(script.coalesce().steps) == [.type("hello"), .key("enter backspace")])
    }

    @Test func doubleAndTripleClicksWithinTimeAndDistance() {
        var script = Script()
        script.click(50, 50)
        script.click(53, 52)  // within 5 px and 0.5 s
        script.after(1_000)
        script.click(300, 300)
        script.click(300, 300)
        script.click(301, 300)
        script.after(1_000)
        script.click(400, 400)
        script.after(600)  // too late to join
        script.click(400, 400)
        script.click(420, 400)  // too far to join
        script.click(420, 400, button: 3)  // another button
        #expect(
            actions(script.coalesce().steps) == [
                .click(Point(x: 50, y: 50), button: .left, clicks: 2),
                .click(Point(x: 300, y: 300), button: .left, clicks: 3),
                .click(Point(x: 400, y: 400), button: .left, clicks: 1),
                .click(Point(x: 400, y: 400), button: .left, clicks: 1),
                .click(Point(x: 420, y: 400), button: .left, clicks: 1),
                .click(Point(x: 420, y: 400), button: .right, clicks: 1),
            ])
    }

    @Test func dragNeedsMoreThanTenPixels() {
        var script = Script()
        let pressTime = script.time
        script.press(1, 10, 10)
        script.move(15, 12)
        script.move(100, 80)
        script.release(1, 100, 80)
        script.after(600)
        script.press(1, 200, 200)
        script.move(208, 204)
        script.release(1, 208, 204)  // 8.9 px: a click
        let steps = script.coalesce().steps
        #expect(
            actions(steps) == [
                .drag(from: Point(x: 10, y: 10), to: Point(x: 100, y: 80), button: .left),
                .click(Point(x: 200, y: 200), button: .left, clicks: 1),
            ])
        #expect(steps[0].checkpoint == CheckpointRequest(point: Point(x: 10, y: 10), time: pressTime))
    }

    @Test func consecutiveWheelStepsAreOneScroll() {
        var script = Script()
        let first = script.time
        for _ in 0..<5 {
            script.press(5, 640, 400)
            script.release(5, 640, 400)
        }
        script.press(4, 640, 400)
        script.release(4, 640, 400)
        script.click(10, 10)
        let steps = script.coalesce().steps
        #expect(
            actions(steps) == [
                .scroll(.down, amount: 5, at: Point(x: 640, y: 400)),
                .scroll(.up, amount: 1, at: Point(x: 640, y: 400)),
                .click(Point(x: 10, y: 10), button: .left, clicks: 1),
            ])
        #expect(steps[0].checkpoint == CheckpointRequest(point: Point(x: 640, y: 400), time: first))
    }

    @Test func longPausesBecomeCappedWaits() {
        var script = Script()
        script.type("a")
        script.after(3_000)
        script.type("b")
        script.after(1_500)  // not long enough
        script.type("c")
        script.after(60_000)
        script.key("enter")
        var settings = StepCoalescer.Settings()
        settings.maximumWait = 8_000
        #expect(
            actions(script.coalesce(settings).steps) == [
                .type("a"), .wait(seconds: 3.0), .type("bc"), .wait(seconds: 8.0), .key("enter"),
            ])
    }

    @Test func motionAloneRecordsNothing() {
        var script = Script()
        for i in 0..<100 { script.move(i, i * 2) }
        #expect(script.coalesce().steps.isEmpty)
    }

    @Test func stopChordEndsTheRecordingAndIsNotRecorded() {
        var script = Script()
        script.type("done")
        script.key("ctrl")
        script.key("alt")
        script.key("shift")
        script.key("s", text: "S", modifiers: [.ctrl, .alt, .shift])
        script.type("after")
        let (steps, stopped) = script.coalesce()
        #expect(stopped)
        #expect(actions(steps) == [.type("done")])
    }

    @Test func customStopChordParses() throws {
        let chord = try StepCoalescer.StopChord(parsing: "Super+F12")
        #expect(chord.modifiers == .super)
        #expect(chord.key == "F12")
        #expect(throws: RecorderError.self) { try StepCoalescer.StopChord(parsing: "q") }
        #expect(throws: RecorderError.self) { try StepCoalescer.StopChord(parsing: "ctrl+a+b") }
        #expect(throws: RecorderError.self) { try StepCoalescer.StopChord(parsing: "ctrl+notakey") }
    }

    @Test func buttonHeldAtTheEndIsNotRecorded() {
        var script = Script()
        script.click(5, 5)
        script.after(700)
        script.press(1, 50, 50)
        script.move(300, 300)
        #expect(actions(script.coalesce().steps) == [.click(Point(x: 5, y: 5), button: .left, clicks: 1)])
    }

    @Test func advanceHandsOutAClickOnceNoSecondClickCanJoin() {
        var coalescer = StepCoalescer()
        _ = coalescer.feed(.button(ButtonInput(time: 0, button: 1, isPress: true, point: Point(x: 1, y: 1))))
        _ = coalescer.feed(.button(ButtonInput(time: 50, button: 1, isPress: false, point: Point(x: 1, y: 1))))
        #expect(coalescer.advance(to: 400).isEmpty)
        #expect(actions(coalescer.advance(to: 600)) == [.click(Point(x: 1, y: 1), button: .left, clicks: 1)])
    }

    @Test func recordedStepsValidateAsATrajectory() throws {
        var script = Script()
        script.click(200, 150)
        script.after(600)
        script.type("Hi")
        script.key("a", modifiers: .ctrl)
        script.press(1, 10, 10)
        script.release(1, 100, 100)
        script.press(5, 5, 5)
        script.after(3_000)
        script.key("udiaeresis", modifiers: .ctrl)
        let json = script.coalesce().steps.map { $0.json() }
        let steps = try Trajectory.validate(json)
        #expect(steps.count == 7)
    }
}

@Suite struct TypedTextTemplaterTests {
    @Test func valuesBecomePlaceholdersSecretsFirst() throws {
        let templater = try TypedTextTemplater([
            .init(name: "patient", value: "Ann", isSecret: false),
            .init(name: "password", value: "pAnn{1}", isSecret: true),
        ])
        #expect(templater.template("Ann") == "{patient}")
        #expect(templater.template("Dr. Ann, Ann") == "Dr. {patient}, {patient}")
        #expect(templater.template("pAnn{1}") == "{$password}")
        #expect(templater.template("x{y}") == "x\\{y}")
        #expect(templater.template("other") == "other")
    }

    @Test func badNamesAndEmptyValuesAreRefused() {
        #expect(throws: RecorderError.self) {
            try TypedTextTemplater([.init(name: "a b", value: "x", isSecret: false)])
        }
        #expect(throws: RecorderError.self) { try TypedTextTemplater([.init(name: "a", value: "", isSecret: true)]) }
    }
}
