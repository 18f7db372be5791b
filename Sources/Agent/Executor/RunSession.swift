import CyberdeskAPI
import Desktop
import Logging

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The state of one run while ``RunExecutor`` executes it: runtime values, outputs, history,
/// imported and exported files. Owned by the executing task alone.
struct RunSession {
    let run: RunAssignment
    let desktop: any Desktop
    let environment: any RunEnvironment
    let configuration: ExecutorConfiguration
    let paths: TransferPaths
    var logger: Logger

    var runtimeValues: JSONObject = [:]
    var outputData: JSONObject = [:]
    var history: HistoryRecorder
    /// Files written by the import, deleted at the end when their input asks for it.
    var importsToClean: [String] = []
    /// The transfers folder before the first step, with `includes_file_exports`.
    var snapshot: [String: FileSignature]?
    /// Resolved paths already uploaded as OUTPUT attachments.
    var exported: Set<String> = []
    /// The scale last reported in the history, so a change (RandR) is reported again.
    var reportedScaler: CoordinateScaler?
    /// Whether a model chooses the steps (from the start, or since a replay handed over):
    /// its file steps are confined and its commands need the workflow's allowlist.
    var modelDriven = false

    /// The largest file `read_file` puts into a value (10 MiB).
    static let readLimit = 10 << 20
    /// The largest file exported (100 MiB, the server's default attachment cap).
    static let exportLimit = 100 << 20
    /// Waits and timeouts are capped at a year, far beyond any lease, so that an absurd
    /// value in a trajectory cannot overflow `Duration`.
    static let longestDuration = 365 * 86_400.0

    init(
        run: RunAssignment, desktop: any Desktop, environment: any RunEnvironment,
        configuration: ExecutorConfiguration, logger: Logger
    ) {
        self.run = run
        self.desktop = desktop
        self.environment = environment
        self.configuration = configuration
        self.paths = TransferPaths(configuration)
        self.logger = logger
        self.history = HistoryRecorder(environment: environment)
    }

    // MARK: - Before the first step

    /// Downloads, verifies and writes every file input.
    mutating func importFiles() async throws(StepFailure) {
        for input in run.fileInputs {
            let label = "file input '\(input.filename)'"
            do {
                let target = try paths.importTarget(for: input)
                let directory = target.split(separator: "/", omittingEmptySubsequences: false).dropLast()
                    .joined(separator: "/")
                let temporary = directory + "/.cyberdesk-import-" + UUID().uuidString.lowercased()
                let received: (sha256: String, size: Int64)
                do {
                    received = try await environment.download(
                        attachmentID: input.attachmentID, to: temporary, maxBytes: input.sizeBytes)
                    try Task.checkCancellation()
                    guard received.size == input.sizeBytes else {
                        throw StepFailure.error(
                            "\(label): downloaded \(received.size) bytes, expected \(input.sizeBytes); not written")
                    }
                    guard received.sha256 == input.sha256.lowercased() else {
                        throw StepFailure.error(
                            "\(label): SHA-256 checksum mismatch (expected \(input.sha256), got \(received.sha256)); not written"
                        )
                    }
                    try FileSystem.moveIntoPlace(temporary, target)
                } catch {
                    unlink(temporary)
                    throw error
                }
                let digest = received.sha256
                let size = received.size
                if input.cleanupImportsAfterRun { importsToClean.append(target) }
                history.append([
                    "type": "file_import", "attachment_id": .string(input.attachmentID),
                    "filename": .string(input.filename), "path": .string(target),
                    "size_bytes": .int(size), "sha256": .string(digest),
                    "cleanup_after_run": .bool(input.cleanupImportsAfterRun), "at": .string(Self.timestamp()),
                ])
                logger.info("file input imported", metadata: ["file.path": "\(target)", "file.size": "\(size)"])
            } catch {
                switch StepFailure.from(error) {
                case .cancelled: throw .cancelled
                case .taskFailed(let message): throw .error(Self.prefixed(label, message))
                case .error(let message): throw .error(Self.prefixed(label, message))
                }
            }
        }
    }

    /// Records every file in the transfers folder, to find what the run creates or changes.
    mutating func takeSnapshot() {
        let root = (try? FileSystem.resolve(paths.transfers)) ?? paths.transfers
        snapshot = FileSystem.regularFiles(under: root)
    }

    // MARK: - Steps

    /// Executes one step; `record` receives the arguments as shown in the history (secrets as
    /// placeholders) and the step's result.
    mutating func perform(_ step: Step, raw: JSONValue, record: inout StepRecord) async throws {
        switch step {
        case .screenshot:
            let shot = try await desktop.screenshot(ScreenshotOptions())
            let imageID = try await environment.uploadImage(shot.png)
            record.result = [
                "image_id": .string(imageID), "width": .int(Int64(shot.width)), "height": .int(Int64(shot.height)),
            ]

        case .click(let x, let y, let button, let clicks):
            record.args = [
                "x": .double(x), "y": .double(y), "button": .string(button.rawValue), "clicks": .int(Int64(clicks)),
            ]
            let point = try await screenPoint(x: x, y: y, record: &record)
            record.addScreenPoint(point)
            try await desktop.click(at: point, button: Self.button(button), clicks: clicks)

        case .mouseDown(let button, let x, let y), .mouseUp(let button, let x, let y):
            let down = if case .mouseDown = step { true } else { false }
            record.args = ["button": .string(button.rawValue)]
            var point: Point?
            if let x, let y {
                record.args["x"] = .double(x)
                record.args["y"] = .double(y)
                point = try await screenPoint(x: x, y: y, record: &record)
                record.addScreenPoint(point!)
            }
            try await desktop.mouseButton(Self.button(button), down: down, at: point)

        case .mouseMove(let x, let y):
            record.args = ["x": .double(x), "y": .double(y)]
            let point = try await screenPoint(x: x, y: y, record: &record)
            record.addScreenPoint(point)
            try await desktop.move(to: point)

        case .drag(let startX, let startY, let toX, let toY, let duration, let button):
            record.args = [
                "start_x": .double(startX), "start_y": .double(startY), "to_x": .double(toX), "to_y": .double(toY),
                "duration": .double(duration), "button": .string(button.rawValue),
            ]
            let start = try await screenPoint(x: startX, y: startY, record: &record)
            let end = try await screenPoint(x: toX, y: toY, record: &record)
            if record.scaled {
                record.args["screen_start"] = [.int(Int64(start.x)), .int(Int64(start.y))]
                record.args["screen_end"] = [.int(Int64(end.x)), .int(Int64(end.y))]
            }
            try await desktop.drag(from: start, to: end, duration: duration, button: Self.button(button))

        case .scroll(let direction, let amount, let x, let y):
            record.args = ["direction": .string(direction.rawValue), "amount": .int(Int64(amount))]
            var point: Point?
            if let x, let y {
                record.args["x"] = .double(x)
                record.args["y"] = .double(y)
                point = try await screenPoint(x: x, y: y, record: &record)
                record.addScreenPoint(point!)
            }
            guard let scrollDirection = ScrollDirection(rawValue: direction.rawValue) else {
                throw StepFailure.error("unknown scroll direction '\(direction.rawValue)'")
            }
            try await desktop.scroll(scrollDirection, amount: amount, at: point)

        case .type(let text):
            let rendered = render(text, record: &record)
            record.args = ["text": .string(rendered.displayText)]
            try await type(rendered)

        case .key(let text, let down):
            let chords = renderText(text, record: &record)
            record.args = ["text": .string(chords)]
            if let down { record.args["down"] = .bool(down) }
            let action: KeyAction = down.map { $0 ? .down : .up } ?? .tap
            try await desktop.key(chords, action: action)

        case .wait(let seconds):
            record.args = ["seconds": .double(seconds)]
            try await Task.sleep(for: .seconds(min(seconds, Self.longestDuration)))

        case .copyToClipboard(let key):
            let name = renderText(key, record: &record)
            record.args = ["key": .string(name)]
            let text = try await desktop.copySelectionToClipboard(chord: "ctrl+c", timeout: configuration.copyTimeout)
            runtimeValues[name] = .string(text)
            outputData[name] = .string(text)
            record.result = ["characters": .int(Int64(text.count))]

        case .setClipboard(let text):
            let value = renderText(text, record: &record)
            record.args = ["text": .string(value)]
            try await desktop.setClipboardText(value)

        case .executeTerminalCommand(let command, let timeout, let outputKey, let workingDirectory):
            try await executeCommand(
                command: command, timeout: timeout, outputKey: outputKey, workingDirectory: workingDirectory,
                raw: raw, record: &record)

        case .readFile(let path, let outputKey):
            let shownPath = renderText(path, record: &record)
            let key = renderText(outputKey, record: &record)
            record.args = ["path": .string(shownPath), "output_key": .string(key)]
            let resolved = try usablePath(shownPath)
            let bytes = try FileSystem.read(resolved, limit: Self.readLimit)
            let text = String(decoding: bytes, as: UTF8.self)
            runtimeValues[key] = .string(text)
            outputData[key] = .string(text)
            record.result = ["path": .string(resolved), "size_bytes": .int(Int64(bytes.count))]

        case .writeFile(let path, let content, let mode):
            let shownPath = renderText(path, record: &record)
            let text = renderText(content, record: &record)
            record.args = ["path": .string(shownPath), "content": .string(text), "mode": .string(mode.rawValue)]
            let resolved = try usablePath(shownPath)
            switch mode {
            case .write: try FileSystem.writeAtomically(Array(text.utf8), to: resolved)
            case .append: try FileSystem.append(Array(text.utf8), to: resolved)
            }
            record.result = ["path": .string(resolved), "size_bytes": .int(Int64(text.utf8.count))]

        case .markFileForExport(let path):
            let shownPath = renderText(path, record: &record)
            record.args = ["path": .string(shownPath)]
            let resolved = try paths.exportable(shownPath)
            record.result = try await export(resolved)

        case .setOutput(let key, let value):
            let name = renderText(key, record: &record)
            let rendered = renderJSON(value, record: &record)
            record.args = ["key": .string(name), "value": rendered]
            outputData[name] = rendered

        case .upsertRuntimeValues(let values):
            var rendered: JSONObject = [:]
            for (name, value) in values { rendered[name] = renderJSON(value, record: &record) }
            record.args = ["values": .object(rendered)]
            runtimeValues.merge(rendered) { $1 }

        case .fail(let message):
            let text = renderText(message, record: &record)
            record.args = ["message": .string(text)]
            throw StepFailure.taskFailed(text)
        }
    }

    /// A file path of a step, resolved: confined to the transfer folders when a model performs
    /// the run (``TransferPaths/confined(_:)``).
    func usablePath(_ path: String) throws(FileProblem) -> String {
        modelDriven ? try paths.confined(path) : try paths.resolve(path)
    }

    // MARK: - Templates

    func render(_ text: String, record: inout StepRecord) -> RenderedTemplate {
        guard text.contains("{") else { return Template.render(text, inputs: [:]) }
        let rendered = Template.render(text, inputs: run.inputValues, runtime: runtimeValues)
        for name in rendered.unresolvedRuntimeNames where !record.unresolved.contains(name) {
            record.unresolved.append(name)
        }
        return rendered
    }

    /// A string argument other than the text of `type`: validation keeps secrets out of these,
    /// and ``RenderedTemplate/displayText`` would show one as its placeholder anyway.
    func renderText(_ text: String, record: inout StepRecord) -> String {
        render(text, record: &record).displayText
    }

    /// Templates every string inside a JSON value (object keys are left as written).
    func renderJSON(_ value: JSONValue, record: inout StepRecord) -> JSONValue {
        switch value {
        case .string(let text): return .string(renderText(text, record: &record))
        case .array(let values): return .array(values.map { renderJSON($0, record: &record) })
        case .object(let members): return .object(members.mapValues { renderJSON($0, record: &record) })
        case .null, .bool, .int, .double: return value
        }
    }

    // MARK: - Typing and secrets

    /// Types literal text as is and fetches each secret right before typing it.
    func type(_ rendered: RenderedTemplate) async throws {
        for segment in rendered.segments {
            switch segment {
            case .literal(let text):
                try await desktop.type(text, options: configuration.typingOptions)
            case .secret(let name):
                try await typeSecret(named: name)
            }
        }
    }

    private func typeSecret(named name: String) async throws {
        let placeholder = "{$" + name + "}"
        let root = name.split(separator: ".", maxSplits: 1).first.map(String.init) ?? name
        guard run.sensitiveNames.contains(name) || run.sensitiveNames.contains(root) else {
            throw StepFailure.error("the sensitive input \(placeholder) was not provided for this run")
        }
        let secret: SecretBuffer
        do {
            let value = try await environment.secret(named: name)
            if case .string(let text) = value {
                secret = SecretBuffer(copying: text)
            } else {
                secret = SecretBuffer(copying: value.templateText)
            }
        } catch {
            if case .cancelled = StepFailure.from(error) { throw CancellationError() }
            throw StepFailure.error("fetching the sensitive input \(placeholder): \(error)")
        }
        do {
            try await secret.forEachPiece { piece in
                try await desktop.type(piece, options: configuration.typingOptions)
            }
        } catch DesktopError.unsupportedCharacter {
            // The desktop's message would show the character; name only the input.
            throw StepFailure.error(
                "the sensitive input \(placeholder) contains a control character that cannot be typed")
        }
    }

    // MARK: - Coordinates

    /// The screen point for a trajectory point, reporting a new scale in the history.
    mutating func screenPoint(x: Double, y: Double, record: inout StepRecord) async throws -> Point {
        let scaler = CoordinateScaler(recorded: run.dimensions, screen: try await desktop.dimensions())
        if scaler != reportedScaler, !(reportedScaler == nil && scaler.isIdentity) {
            history.append([
                "type": "coordinate_scale",
                "recorded_dimensions": [
                    "width": .int(Int64(scaler.recorded.width)), "height": .int(Int64(scaler.recorded.height)),
                ],
                "screen_dimensions": [
                    "width": .int(Int64(scaler.screen.width)), "height": .int(Int64(scaler.screen.height)),
                ],
                "scale_x": .double(scaler.scaleX), "scale_y": .double(scaler.scaleY),
                "step_index": .int(Int64(record.index)), "at": .string(Self.timestamp()),
            ])
            logger.info(
                "coordinates scaled to the screen",
                metadata: ["scale.x": "\(scaler.scaleX)", "scale.y": "\(scaler.scaleY)"])
        }
        reportedScaler = scaler
        record.scaled = !scaler.isIdentity
        return scaler.point(x: x, y: y)
    }

    static func button(_ name: MouseButtonName) -> MouseButton {
        switch name {
        case .left: .left
        case .right: .right
        case .middle: .middle
        }
    }

    // MARK: - Terminal commands

    private mutating func executeCommand(
        command: String, timeout: Double, outputKey: String?, workingDirectory: String?, raw: JSONValue,
        record: inout StepRecord
    ) async throws {
        let text = renderText(command, record: &record)
        let key = outputKey.map { renderText($0, record: &record) }
        let directory = workingDirectory.map { renderText($0, record: &record) }
        let seconds = Self.hasExplicitTimeout(raw) ? timeout : configuration.defaultTerminalCommandTimeout
        record.args = ["command": .string(text), "timeout": .double(seconds)]
        if let key { record.args["output_key"] = .string(key) }
        if let directory { record.args["working_directory"] = .string(directory) }

        if let allowlist = run.terminalCommandAllowlist,
            let refusal = CommandAllowlist(entries: allowlist).refusal(for: text)
        {
            throw StepFailure.taskFailed(refusal)
        }
        // A model may run only the commands the workflow allows by name: a command could read
        // the agent's credential or a typed secret back into the model's context.
        if modelDriven, run.terminalCommandAllowlist == nil {
            throw StepFailure.taskFailed(
                "commands are refused when a model performs the run and the workflow has no "
                    + "terminal_command_allowlist; set one to allow the commands this task needs")
        }
        var cwd = configuration.homeDirectory
        if let directory {
            // Relative to the home, where a shell starts.
            let expanded = directory.hasPrefix("/") || directory.hasPrefix("~") ? directory : "~/" + directory
            cwd = try FileSystem.resolve(try paths.expand(expanded).path)
            guard FileSystem.isDirectory(cwd) else {
                throw StepFailure.taskFailed("the working directory '\(directory)' is not a directory")
            }
        }
        let result = try await TerminalCommand(
            command: text, workingDirectory: cwd,
            environment: TerminalCommand.environment(
                home: configuration.homeDirectory, extra: configuration.terminalEnvironment),
            timeout: .seconds(min(seconds, Self.longestDuration))
        ).run()
        let stdout = String(decoding: result.stdout, as: UTF8.self)
        let stderr = Self.trimmed(String(decoding: result.stderrTail, as: UTF8.self))
        record.result = [
            "exit_code": .int(Int64(result.status)), "stdout": .string(Self.preview(stdout)),
            "stderr": .string(stderr), "timed_out": .bool(result.timedOut),
        ]
        if result.stdoutTruncated { record.result["stdout_truncated"] = .bool(true) }
        if result.timedOut {
            throw StepFailure.taskFailed(
                "the command did not finish within \(JSONValue.double(seconds).templateText) s; its process group was killed"
            )
        }
        guard result.status == 0 else {
            let detail = stderr.isEmpty ? "" : ": " + stderr
            throw StepFailure.taskFailed("the command exited with status \(result.status)\(detail)")
        }
        if let key {
            let value = JSONValue.string(Self.trimmed(stdout))
            runtimeValues[key] = value
            outputData[key] = value
        }
    }

    /// Whether the step gave `timeout` itself (the parser fills in 30 otherwise, and the
    /// agent's configured default applies instead).
    static func hasExplicitTimeout(_ raw: JSONValue) -> Bool {
        guard case .object(let step) = raw else { return false }
        if case .object(let kwargs)? = step["kwargs"], let timeout = kwargs["timeout"], timeout != .null { return true }
        if case .array(let args)? = step["args"], args.count > 1, args[1] != .null { return true }
        return false
    }

    /// Without leading and trailing whitespace and line breaks.
    static func trimmed(_ text: String) -> String {
        guard let first = text.firstIndex(where: { !$0.isWhitespace }),
            let last = text.lastIndex(where: { !$0.isWhitespace })
        else { return "" }
        return String(text[first...last])
    }

    /// The start of long text in the history; the full value is in `output_data`.
    static func preview(_ text: String, limit: Int = 4096) -> String {
        text.utf8.count <= limit ? text : String(decoding: text.utf8.prefix(limit), as: UTF8.self) + "…"
    }

    // MARK: - Exports

    /// Uploads one resolved file as an OUTPUT attachment.
    mutating func export(_ resolved: String) async throws -> JSONObject {
        let size = Int64(FileSystem.status(resolved, followingSymlinks: true)?.st_size ?? 0)
        guard size <= Int64(Self.exportLimit) else {
            throw FileProblem.tooLarge(path: resolved, bytes: Int(size), limit: Self.exportLimit)
        }
        let filename = resolved.split(separator: "/").last.map(String.init) ?? resolved
        let attachmentID = try await environment.export(filename: filename, path: resolved)
        exported.insert(resolved)
        logger.info("file exported", metadata: ["file.path": "\(resolved)", "file.size": "\(size)"])
        return ["attachment_id": .string(attachmentID), "path": .string(resolved), "size_bytes": .int(size)]
    }

    /// With `includes_file_exports`: uploads every file created or changed in the transfers
    /// folder since the snapshot and not exported yet. Returns the errors.
    mutating func exportChangedFiles() async -> [String] {
        guard let snapshot else { return [] }
        let root = (try? FileSystem.resolve(paths.transfers)) ?? paths.transfers
        let current = FileSystem.regularFiles(under: root)
        var errors: [String] = []
        for path in current.keys.sorted() where snapshot[path] != current[path] && !exported.contains(path) {
            do {
                let result = try await export(path)
                history.append(["type": "file_export", "at": .string(Self.timestamp())].merging(result) { $1 })
            } catch {
                let message = "exporting '\(path)': \(StepFailure.from(error).message)"
                errors.append(message)
                history.append(["type": "file_export", "path": .string(path), "error": .string(message)])
            }
        }
        return errors
    }

    /// Deletes the imports whose input asked for it; returns the errors.
    func cleanUpImports() -> [String] {
        var errors: [String] = []
        for path in importsToClean {
            do {
                try FileSystem.remove(path)
            } catch {
                errors.append("cleaning up the imported file: \(error)")
            }
        }
        return errors
    }

    // MARK: - Formatting

    static func timestamp(_ date: Date = Date()) -> String {
        APIJSON.formatTimestamp(date)
    }

    static func prefixed(_ label: String, _ message: String) -> String {
        message.hasPrefix(label) ? message : label + ": " + message
    }
}

/// What the history shows of one step while it runs.
struct StepRecord {
    let index: Int
    var args: JSONObject = [:]
    var result: JSONObject = [:]
    /// `{{name}}` placeholders with no runtime value, left as typed text.
    var unresolved: [String] = []
    /// Whether coordinates were scaled to the screen.
    var scaled = false

    init(index: Int) {
        self.index = index
    }

    mutating func addScreenPoint(_ point: Point) {
        if scaled { args["screen_point"] = [.int(Int64(point.x)), .int(Int64(point.y))] }
    }
}
