import FoundationEssentials

/// The daemon's settings, from flags, then `CYBERDESK_*` environment variables, then the
/// config file (`key = value` lines, `#` comments), then defaults. Secrets are never
/// settings: API keys and tokens are read from files or stdin.
public struct AgentSettings: Sendable, Equatable {
    public var server: String?
    public var stateDir: String
    public var logLevel: String
    public var display: String?
    public var transfersDir: String?
    public var exportRoots: [String]
    public var name: String?
    public var pools: [String]

    public static let keys = [
        "server", "state_dir", "log_level", "display", "transfers_dir", "export_roots", "name", "pools",
    ]

    /// `flags` holds what was given on the command line, by key.
    public static func resolve(
        flags: [String: String], environment: [String: String], configFile: String?
    ) throws -> AgentSettings {
        var file: [String: String] = [:]
        let configPath = flags["config"] ?? environment["CYBERDESK_CONFIG"] ?? configFile
        if let configPath {
            guard let bytes = try AgentFiles.read(configPath) else {
                throw AgentError.configuration("config file \(configPath) does not exist")
            }
            file = try parse(String(decoding: bytes, as: UTF8.self), path: configPath)
        }
        func value(_ key: String) -> String? {
            flags[key] ?? environment["CYBERDESK_" + key.uppercased()] ?? file[key]
        }
        func list(_ key: String) -> [String] {
            (value(key) ?? "").split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty }
        }
        return AgentSettings(
            server: value("server"),
            stateDir: value("state_dir") ?? StateDirectory.defaultPath(environment: environment),
            logLevel: value("log_level") ?? "info", display: value("display") ?? environment["DISPLAY"],
            transfersDir: value("transfers_dir"), exportRoots: list("export_roots"), name: value("name"),
            pools: list("pools"))
    }

    static func parse(_ text: String, path: String) throws -> [String: String] {
        var values: [String: String] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw).trimmed
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw AgentError.configuration("\(path):\(number + 1): expected 'key = value'")
            }
            let key = String(line[..<equals]).trimmed.lowercased().replacing("-", with: "_")
            var value = String(line[line.index(after: equals)...]).trimmed
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                value = String(value.dropFirst().dropLast())
            }
            guard keys.contains(key) else {
                throw AgentError.configuration(
                    "\(path):\(number + 1): unknown setting '\(key)' (known: \(keys.joined(separator: ", ")))")
            }
            values[key] = value
        }
        return values
    }
}

extension String {
    var trimmed: String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}
