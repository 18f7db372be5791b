/// One validated trajectory step, with typed arguments and defaults applied.
///
/// Built by ``init(parsing:index:)`` (or ``Trajectory/validate(_:)``) from the JSON step
/// format of `STEPS.md`. Aliases are normalized: `left_click`, `right_click`, `middle_click`,
/// `double_click` and `triple_click` become ``click(x:y:button:clicks:)``, `left_click_drag`
/// becomes ``drag(startX:startY:toX:toY:duration:button:)``.
///
/// String arguments are kept as written: templates (`{name}`, `{{name}}`, `{$name}`) are
/// applied by the agent when the step runs (``Template``). Numbers are plain numbers, so a
/// coordinate cannot come from a template. Coordinates are in the trajectory's `dimensions`;
/// durations, waits and timeouts are in seconds.
public enum Step: Sendable, Hashable {
    case screenshot
    /// `clicks` is 1...3 (single, double, triple click).
    case click(x: Double, y: Double, button: MouseButtonName, clicks: Int)
    /// Without coordinates the button is pressed where the pointer is.
    case mouseDown(button: MouseButtonName, x: Double?, y: Double?)
    case mouseUp(button: MouseButtonName, x: Double?, y: Double?)
    case mouseMove(x: Double, y: Double)
    /// The pointer moves from start to end interpolated over `duration` (0: at once).
    case drag(startX: Double, startY: Double, toX: Double, toY: Double, duration: Double, button: MouseButtonName)
    /// `amount` wheel clicks (at least 1), after moving to x, y when they are given.
    case scroll(direction: ScrollDirectionName, amount: Int, x: Double?, y: Double?)
    /// The only place where `{$name}` sensitive inputs may appear.
    case type(text: String)
    /// Key chords in xdotool syntax (names checked against `KeyVocabulary` when the trajectory is written). `down`:
    /// true presses only, false releases only, nil presses and releases.
    case key(text: String, down: Bool?)
    case wait(seconds: Double)
    case copyToClipboard(key: String)
    case setClipboard(text: String)
    case executeTerminalCommand(command: String, timeout: Double, outputKey: String?, workingDirectory: String?)
    case readFile(path: String, outputKey: String)
    case writeFile(path: String, content: String, mode: WriteMode)
    case markFileForExport(path: String)
    /// `value` is any JSON; its strings are templated when the step runs.
    case setOutput(key: String, value: JSONValue)
    /// The values' strings are templated when the step runs.
    case upsertRuntimeValues(values: JSONObject)
    case fail(message: String)

    /// The canonical `func_name` (aliases resolved), for history and error messages.
    public var funcName: String {
        switch self {
        case .screenshot: "screenshot"
        case .click: "click"
        case .mouseDown: "mouse_down"
        case .mouseUp: "mouse_up"
        case .mouseMove: "mouse_move"
        case .drag: "drag"
        case .scroll: "scroll"
        case .type: "type"
        case .key: "key"
        case .wait: "wait"
        case .copyToClipboard: "copy_to_clipboard"
        case .setClipboard: "set_clipboard"
        case .executeTerminalCommand: "execute_terminal_command"
        case .readFile: "read_file"
        case .writeFile: "write_file"
        case .markFileForExport: "mark_file_for_export"
        case .setOutput: "set_output"
        case .upsertRuntimeValues: "upsert_runtime_values"
        case .fail: "fail"
        }
    }

    /// Every string the agent templates when the step runs, nested JSON strings included.
    var templatedStrings: [String] {
        switch self {
        case .screenshot, .click, .mouseDown, .mouseUp, .mouseMove, .drag, .scroll, .wait:
            return []
        case .type(let text), .setClipboard(let text), .key(let text, _):
            return [text]
        case .copyToClipboard(let key):
            return [key]
        case .executeTerminalCommand(let command, _, let outputKey, let workingDirectory):
            return [command] + [outputKey, workingDirectory].compactMap { $0 }
        case .readFile(let path, let outputKey):
            return [path, outputKey]
        case .writeFile(let path, let content, _):
            return [path, content]
        case .markFileForExport(let path):
            return [path]
        case .setOutput(let key, let value):
            return [key] + value.allStrings
        case .upsertRuntimeValues(let values):
            return JSONValue.object(values).allStrings
        case .fail(let message):
            return [message]
        }
    }
}
