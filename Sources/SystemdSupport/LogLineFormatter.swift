import Logging

/// Turns one log event into one line of text for a ``LogOutput``.
///
/// Every event is exactly one line, whatever its message or metadata contain: newlines
/// and other control characters are escaped, because journald, `grep` and people reading
/// a terminal all take a line break as the start of the next event, and an escape sequence
/// in a message (a window title, a server's error text) must not repaint the terminal.
public struct LogLineFormatter: Sendable {
    public let output: LogOutput

    public init(output: LogOutput) {
        self.output = output
    }

    /// The line for an event, without the trailing newline. Metadata is sorted by key so
    /// that lines of the same event compare equal across runs.
    public func format(
        level: Logger.Level, message: String, metadata: Logger.Metadata, time: LogTimestamp
    ) -> String {
        let text = Self.escaped(message)
        let fields = metadata.sorted { $0.key < $1.key }.map { Self.field(key: $0.key, value: "\($0.value)") }
        switch output {
        case .journal:
            return (["<\(Self.syslogPriority(level))>" + text] + fields).joined(separator: " ")
        case .plain:
            return ([time.iso8601UTC, Self.levelName(level), text] + fields).joined(separator: " ")
        case .terminal(let colors):
            return Self.terminalLine(level: level, text: text, fields: fields, time: time, colors: colors)
        }
    }

    /// `HH:MM:SS.mmm LEVEL   message key=value`, the level padded so messages line up.
    /// With colours: dim time and metadata, the level in its colour, the message plain.
    private static func terminalLine(
        level: Logger.Level, text: String, fields: [String], time: LogTimestamp, colors: Bool
    ) -> String {
        let name = levelName(level)
        let padding = String(repeating: " ", count: max(1, 8 - name.count))
        let metadata = fields.isEmpty ? "" : " " + fields.joined(separator: " ")
        guard colors else {
            return time.localTimeOfDay + " " + name + padding + text + metadata
        }
        let reset = "\u{1B}[0m"
        let dim = "\u{1B}[2m"
        return dim + time.localTimeOfDay + reset + " " + levelColor(level) + name + reset + padding + text
            + (metadata.isEmpty ? "" : dim + metadata + reset)
    }

    /// The syslog priority journald reads from a `<N>` prefix. swift-log has no alert or
    /// emergency: its `critical` is syslog's `crit` (2), and `trace` folds into `debug` (7).
    public static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// The level as a word in capitals, so it stands out from a lower-case message.
    public static func levelName(_ level: Logger.Level) -> String {
        level.rawValue.uppercased()
    }

    /// ANSI SGR colour per level: quiet for trace and debug, loud from warning up.
    private static func levelColor(_ level: Logger.Level) -> String {
        let code =
            switch level {
            case .trace: "90"
            case .debug: "36"
            case .info: "32"
            case .notice: "1;32"
            case .warning: "33"
            case .error: "31"
            case .critical: "1;97;41"
            }
        return "\u{1B}[\(code)m"
    }

    /// `key=value`, with the value in double quotes when it is empty or holds a space, `=`,
    /// `"`, a tab or a control character, so a reader can split fields on spaces. Inside
    /// quotes `\` and `"` are escaped, which keeps a quoted value unambiguous.
    static func field(key: String, value: String) -> String {
        let key = sanitizedKey(key)
        let needsQuotes =
            value.isEmpty
            || value.unicodeScalars.contains { $0 == " " || $0 == "=" || $0 == "\"" || isControl($0) }
        guard needsQuotes else { return key + "=" + value }
        var quoted = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": quoted += "\\\\"
            case "\"": quoted += "\\\""
            default: quoted += escaped(scalar)
            }
        }
        return key + "=\"" + quoted + "\""
    }

    /// Keys come from code, but one with a space or `=` would still break the line's
    /// structure: such characters become `_`.
    private static func sanitizedKey(_ key: String) -> String {
        guard !key.isEmpty else { return "_" }
        let scalars = key.unicodeScalars.map { scalar -> Unicode.Scalar in
            scalar == " " || scalar == "=" || scalar == "\"" || isControl(scalar) ? "_" : scalar
        }
        return String(String.UnicodeScalarView(scalars))
    }

    /// `text` with control characters written out: `\n`, `\r`, and `\u{1B}` for the rest.
    /// Tabs stay, they do not break lines.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { isControl($0) && $0 != "\t" }) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            result += scalar == "\t" ? "\t" : escaped(scalar)
        }
        return result
    }

    private static func escaped(_ scalar: Unicode.Scalar) -> String {
        switch scalar {
        case "\n": return "\\n"
        case "\r": return "\\r"
        case "\t": return "\\t"
        case _ where isControl(scalar): return "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
        default: return String(scalar)
        }
    }

    /// C0 and C1 control characters and DEL; U+2028/U+2029 too, which some viewers treat
    /// as line breaks.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028
            || scalar.value == 0x2029
    }
}
