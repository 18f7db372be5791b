import ControlPlane
import CyberdeskAPI
import Desktop
import Foundation
import HTTPTypes
import ServerTestSupport
import TestSupport
import Testing

/// Seeded random inputs for every parser that takes outside input: key chords, templates,
/// trajectory steps, and JSON bodies through the server's decoding path. Bounded so the
/// whole suite stays within a few seconds; each failure message names its seed (replay
/// one with `CYBERDESK_FUZZ_SEED=<seed>`).
@Suite("Fuzzing the parsers of outside input")
struct FuzzTests {
    static func pick<T>(_ items: [T], _ generator: inout SeededGenerator) -> T {
        items.randomElement(using: &generator)!
    }

    static func text(_ pieces: [String], max: Int, _ generator: inout SeededGenerator) -> String {
        (0..<Int.random(in: 0...max, using: &generator)).map { _ in pick(pieces, &generator) }.joined()
    }

    // MARK: Key chords

    static let chordPieces = [
        "ctrl", "+", "++", "a", "Z", " ", "  ", "\t", "\n", "shift", "alt", "super", "F1", "f24", "page_down",
        "PageDown", "é", "日", "🎉", "\u{0}", "\u{7f}", "-", "_", "plus", "Return", "ctrlx", "0x41", "U20AC",
    ]

    @Test(
        "key chords: any text parses or is refused as invalidChord, and parsed chords print back to themselves",
        arguments: SeededGenerator.seeds(4))
    func keyChords(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        var (parsed, refused) = (0, 0)
        defer { #expect(parsed > 200 && refused > 200, "seed \(seed): both outcomes occur (\(parsed), \(refused))") }
        for _ in 0..<2000 {
            let text = Self.text(Self.chordPieces, max: 12, &generator)
            let chords: [KeyChord]
            do {
                chords = try KeyChord.parse(text)
                parsed += 1
            } catch DesktopError.invalidChord {
                refused += 1
                continue
            } catch {
                Issue.record("seed \(seed): \(text.debugDescription) threw an untyped error: \(error)")
                continue
            }
            #expect(!chords.isEmpty, "seed \(seed): \(text.debugDescription)")
            for chord in chords {
                #expect(!chord.keys.isEmpty && chord.keys.allSatisfy { !$0.isEmpty })
                #expect(chord.keys.allSatisfy { !$0.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) })
                #expect(chord.keys.dropLast().allSatisfy { $0 != "+" }, "'+' is a key only at the end of a chord")
                // Looking a name up never crashes, whatever it is.
                for key in chord.keys { _ = KeyNames.keysym(for: key) }
            }
            let printed = chords.map { $0.keys.joined(separator: "+") }.joined(separator: " ")
            #expect((try? KeyChord.parse(printed)) == chords, "seed \(seed): \(text.debugDescription) → \(printed)")
        }
    }

    @Test(
        "key names: documented names and every printable character resolve; made-up names do not",
        arguments: SeededGenerator.seeds(2))
    func keyNames(seed: UInt64) {
        for name in [
            "ctrl", "control", "shift", "alt", "option", "super", "cmd", "win", "meta", "esc", "del", "bksp", "pgdn",
            "arrowleft", "rshift", "f1", "f24", "page_down", "PageDown", "Return", "enter", "tab", "space", "+",
        ] {
            #expect(KeyNames.keysym(for: name) != nil, "\(name)")
        }
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<500 {
            let scalar = Unicode.Scalar(UInt32.random(in: 0x21...0x2FFF, using: &generator))
            if let scalar, !scalar.properties.isWhitespace, scalar.properties.generalCategory != .control,
                scalar.properties.generalCategory != .surrogate, scalar.properties.generalCategory != .unassigned
            {
                #expect(
                    KeyNames.keysym(for: String(scalar)) != nil, "seed \(seed): U+\(String(scalar.value, radix: 16))")
            }
            let madeUp = "zq" + Self.text(["x", "j", "q", "z", "v"], max: 6, &generator)
            #expect(KeyNames.keysym(for: madeUp) == nil, "seed \(seed): \(madeUp)")
        }
    }

    // MARK: Templates

    static let templatePieces = [
        "{", "}", "{$", "{{", "}}", "\\", "\\{", "$", ".", "name", "pw", "a", " ", "é", "🎉", "\u{0}", "\n", "{$pw}",
        "{pw}", "{{pw}}", "{$a.b}",
    ]

    @Test(
        "templates: a secret placeholder is never replaced by a value, whatever inputs and runtime values hold",
        arguments: SeededGenerator.seeds(4))
    func templatesKeepSecrets(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        for _ in 0..<1000 {
            let source = Self.text(Self.templatePieces, max: 16, &generator)
            let template = Template(source)
            var values: JSONObject = [:]
            for name in template.secretNames + template.inputNames + template.runtimeNames {
                values[name] = "LEAKED"
                values["$" + name] = "LEAKED"
            }
            let rendered = template.render(inputs: values, runtime: values)
            let secretParts = template.parts.filter { if case .secret = $0 { true } else { false } }.count
            let secretSegments = rendered.segments.filter { if case .secret = $0 { true } else { false } }.count
            #expect(secretSegments == secretParts, "seed \(seed): \(source.debugDescription)")
            #expect(rendered.secretNames == template.secretNames)
            if secretParts > 0 { #expect(rendered.text == nil, "seed \(seed): a secret hides the plain text") }
            // What is stored or logged shows each secret as its placeholder.
            for name in template.secretNames {
                #expect(rendered.displayText.contains("{$\(name)}"), "seed \(seed): \(source.debugDescription)")
            }
        }
    }

    // MARK: Trajectory steps

    static let argumentNames = [
        "x", "y", "button", "clicks", "text", "down", "seconds", "key", "command", "timeout", "output_key",
        "working_directory", "path", "content", "mode", "value", "values", "direction", "amount", "start_x",
        "start_y", "to_x", "to_y", "duration", "message", "bogus",
    ]
    static let stringPieces = [
        "a", "left", "up", "write", "append", "{$pw}", "{name}", "{{v}}", "ctrl+s", "/tmp", "~", " ", "\u{0}", "日",
    ]

    static func value(_ generator: inout SeededGenerator, depth: Int = 0) -> JSONValue {
        switch Int.random(in: 0..<(depth > 1 ? 6 : 8), using: &generator) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &generator))
        case 2: return .int(Int64.random(in: -5...2000, using: &generator))
        case 3: return .double(pick([0.5, -1.5, 1e300, -0.0, 3.0], &generator))
        case 4, 5: return .string(text(stringPieces, max: 4, &generator))
        case 6:
            return .array(
                (0..<Int.random(in: 0...3, using: &generator)).map { _ in value(&generator, depth: depth + 1) })
        default:
            var object: JSONObject = [:]
            for _ in 0..<Int.random(in: 0...3, using: &generator) {
                object[pick(argumentNames, &generator)] = value(&generator, depth: depth + 1)
            }
            return .object(object)
        }
    }

    static func plausibleStep(_ generator: inout SeededGenerator) -> JSONValue {
        let string = JSONValue.string(text(stringPieces, max: 3, &generator))
        let number = JSONValue.int(Int64.random(in: 0...2000, using: &generator))
        let steps: [JSONValue] = [
            ["func_name": "type", "args": [string]], ["func_name": "click", "args": [number, number]],
            ["func_name": "key", "args": ["ctrl+s"]],
            ["func_name": "write_file", "kwargs": ["path": string, "content": string]],
            ["func_name": "wait", "args": [number]], ["func_name": "screenshot"],
            ["func_name": "set_output", "args": ["k", string]],
            ["func_name": "execute_terminal_command", "kwargs": ["command": string]],
        ]
        return pick(steps, &generator)
    }

    static func step(_ generator: inout SeededGenerator) -> JSONValue {
        if Int.random(in: 0..<20, using: &generator) == 0 { return value(&generator) }
        if Bool.random(using: &generator) { return plausibleStep(&generator) }
        var step: JSONObject = [:]
        step["func_name"] =
            Int.random(in: 0..<10, using: &generator) == 0
            ? value(&generator) : .string(pick(Step.funcNames + ["bogus"], &generator))
        if Bool.random(using: &generator) {
            step["args"] = .array(
                (0..<Int.random(in: 0...4, using: &generator)).map { _ in value(&generator, depth: 2) })
        }
        if Bool.random(using: &generator) {
            var kwargs: JSONObject = [:]
            for _ in 0..<Int.random(in: 0...4, using: &generator) {
                kwargs[pick(argumentNames, &generator)] = value(&generator, depth: 1)
            }
            step["kwargs"] = .object(kwargs)
        }
        if Int.random(in: 0..<8, using: &generator) == 0 { step["comment"] = value(&generator) }
        return .object(step)
    }

    static func strings(in value: JSONValue) -> [String] {
        switch value {
        case .string(let text): [text]
        case .array(let items): items.flatMap(strings)
        case .object(let members): members.values.flatMap(strings)
        default: []
        }
    }

    @Test(
        "trajectory steps: random steps are accepted or refused naming a step; accepted ones never use a secret outside type",
        arguments: SeededGenerator.seeds(4))
    func trajectorySteps(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        var accepted = 0
        for _ in 0..<1500 {
            let steps = (0..<Int.random(in: 0...3, using: &generator)).map { _ in Self.step(&generator) }
            let outcome: Result<[Step], TrajectoryValidationError>
            do {
                outcome = .success(try Trajectory.validate(steps))
            } catch {
                outcome = .failure(error)
            }
            switch outcome {
            case .success(let parsed):
                accepted += 1
                #expect(parsed.count == steps.count)
                // Round trip through the API's JSON: the same steps again.
                let again = try APIJSON.decoder().decode([JSONValue].self, from: APIJSON.encoder().encode(steps))
                #expect((try? Trajectory.validate(again)) == parsed, "seed \(seed): \(steps)")
                for (json, step) in zip(steps, parsed) {
                    let object = json.objectValue ?? [:]
                    let arguments =
                        Self.strings(in: object["args"] ?? .null) + Self.strings(in: object["kwargs"] ?? .null)
                    let secrets = arguments.flatMap { Template($0).secretNames }
                    if case .type(let text) = step {
                        #expect(Set(secrets).isSubset(of: Template(text).secretNames), "seed \(seed): \(json)")
                    } else {
                        #expect(secrets.isEmpty, "seed \(seed): a secret outside type was accepted: \(json)")
                    }
                }
            case .failure(let error):
                if let index = error.stepIndex {
                    #expect(steps.indices.contains(index), "seed \(seed): \(error)")
                    #expect(error.description.hasPrefix("step \(index)"), "seed \(seed): \(error)")
                } else {
                    #expect(steps.isEmpty, "seed \(seed): \(error) for \(steps)")
                }
            }
        }
        #expect(accepted > 200, "seed \(seed): the generator produces valid trajectories too (\(accepted))")
    }

    // MARK: JSON bodies through the server

    /// Valid bodies to start from; `{workflow}` and `{run}` are filled in.
    static let bodies: [(HTTPRequest.Method, String, JSONValue)] = [
        (
            .post, "/v1/workflows",
            ["main_prompt": "Look up {patient}", "name": "w", "input_schema": #"{"type": "object"}"#]
        ),
        (.patch, "/v1/workflows/{workflow}", ["name": "renamed", "includes_file_exports": true]),
        (.post, "/v1/runs", ["workflow_id": "{workflow}", "input_values": ["patient": "x"], "is_priority": false]),
        (.post, "/v1/runs/bulk", ["workflow_id": "{workflow}", "count": 2]),
        (.post, "/v1/runs/chain", ["steps": [["workflow_id": "{workflow}", "inputs": ["a": 1]]]]),
        (.patch, "/v1/runs/{run}", ["status": "cancelled"]),
        (
            .post, "/v1/trajectories",
            [
                "workflow_id": "{workflow}", "trajectory_data": [["func_name": "click", "args": [1, 2]]],
                "dimensions": ["width": 10, "height": 10],
            ]
        ),
        (.post, "/v1/pools", ["name": "p", "pool_parameters": ["a": "b"]]),
        (.post, "/v1/machines", ["fingerprint": "f", "unkey_key_id": "u", "machine_parameters": ["a": 1]]),
        (.post, "/v1/connections", ["websocket_id": "w", "machine_id": "{machine}"]),
        (
            .post, "/v1/run-attachments",
            ["run_id": "{run}", "filename": "a.txt", "content": "aGk=", "attachment_type": "input"]
        ),
    ]

    static func mutate(_ value: JSONValue, _ generator: inout SeededGenerator) -> JSONValue {
        guard case .object(var object) = value, !object.isEmpty else { return Self.value(&generator) }
        let key = pick(Array(object.keys), &generator)
        switch Int.random(in: 0..<5, using: &generator) {
        case 0: object[key] = Self.value(&generator)
        case 1: object[key] = nil
        case 2:
            object[pick(argumentNames + ["workflow_id", "machine_id", "pool_ids"], &generator)] = Self.value(&generator)
        case 3: object[key] = mutate(object[key]!, &generator)
        default: object[key] = .string(text(["x", "\u{0}", "../", "{$pw}", "é", "-1"], max: 5, &generator))
        }
        return .object(object)
    }

    @Test(
        "JSON bodies: mutated requests are answered 2xx or a 4xx in the API's error shape, and a 4xx writes nothing",
        arguments: SeededGenerator.seeds(2))
    func jsonBodies(seed: UInt64) async throws {
        try await TestServer.with { server in
            let world = try await HostileWorld.build(server)
            var generator = SeededGenerator(seed: seed)
            var statuses: [Int: Int] = [:]
            defer {
                let accepted = statuses.filter { (200..<300).contains($0.key) }.values.reduce(0, +)
                #expect(accepted > 10 && accepted < 110, "seed \(seed): both outcomes occur: \(statuses)")
            }
            for _ in 0..<120 {
                let (method, path, body) = Self.pick(Self.bodies, &generator)
                var bytes = Array(try APIJSON.encoder().encode(world.fill(Self.mutate(body, &generator))))
                if Int.random(in: 0..<4, using: &generator) == 0, !bytes.isEmpty {
                    // Raw damage: a byte replaced, or the body cut short.
                    let index = Int.random(in: 0..<bytes.count, using: &generator)
                    if Bool.random(using: &generator) {
                        bytes[index] = UInt8.random(in: 0...255, using: &generator)
                    } else {
                        bytes.removeSubrange(index...)
                    }
                }
                let before = try await StoreSnapshot.take(server)
                let response = try await server.request(method, world.fill(path), bytes: bytes)
                let context =
                    "seed \(seed): \(method) \(path) \(String(decoding: bytes, as: UTF8.self).prefix(300)) → \(response)"
                statuses[response.status, default: 0] += 1
                #expect(response.status < 500, "\(context)")
                guard (400..<500).contains(response.status) else { continue }
                let detail = try? response.json().objectValue?["detail"]
                switch detail {
                case .string(let message)?:
                    #expect(!message.isEmpty, "\(context)")
                case .array(let items)?:
                    #expect(
                        items.allSatisfy { $0.objectValue?["loc"] != nil && $0.objectValue?["msg"] != nil },
                        "\(context)")
                default:
                    Issue.record("not the API's error shape: \(context)")
                }
                let after = try await StoreSnapshot.take(server)
                #expect(after == before, "\(context)\n\(after.difference(from: before))")
            }
        }
    }
}
