import CyberdeskAPI
import FoundationEssentials

#if canImport(Glibc)
    import Glibc
#endif

/// `fs/*` and `shell/exec` for computer commands. Paths are resolved like run steps'
/// (`~`, no `..`, relative paths in `~/CyberdeskTransfers`, symlinks followed) and must end
/// up inside the agent user's home: the computer API is reachable with an organization API
/// key, and the home is what the agent's user owns.
struct CommandFilesAccess: CommandFiles {
    let configuration: ExecutorConfiguration

    static let readLimit = 10 << 20

    func perform(_ action: String, _ params: JSONObject) async throws -> JSONValue {
        let paths = TransferPaths(configuration)
        func path(_ key: String, default fallback: String? = nil) throws -> String {
            guard let given = params[key]?.stringValue ?? fallback else {
                throw CommandRunner.BadParameter(message: "\(key) is required")
            }
            let resolved: String
            do {
                resolved = try paths.resolve(given)
            } catch {
                throw CommandRunner.BadParameter(message: error.description)
            }
            let home = (try? FileSystem.resolve(configuration.homeDirectory)) ?? configuration.homeDirectory
            guard TransferPaths.isInside(resolved, root: home) else {
                throw CommandRunner.BadParameter(message: "'\(given)' is outside the agent user's home (\(home))")
            }
            return resolved
        }
        switch action {
        case "fs/list":
            let directory = try path("path", default: "~")
            guard FileSystem.isDirectory(directory) else {
                throw CommandRunner.BadParameter(message: "'\(directory)' is not a directory")
            }
            return ["path": .string(directory), "entries": .array(try Self.entries(of: directory))]
        case "fs/read":
            let file = try path("path")
            let bytes = try Self.mapped { try FileSystem.read(file, limit: Self.readLimit) }
            return [
                "path": .string(file), "content": .string(Data(bytes).base64EncodedString()),
                "size": .int(Int64(bytes.count)),
            ]
        case "fs/write":
            let file = try path("path")
            guard let encoded = params["content"]?.stringValue, let data = Data(base64Encoded: encoded) else {
                throw CommandRunner.BadParameter(message: "content must be base64")
            }
            let mode = params["mode"]?.stringValue ?? "write"
            switch mode {
            case "write": try Self.mapped { try FileSystem.writeAtomically(Array(data), to: file) }
            case "append": try Self.mapped { try FileSystem.append(Array(data), to: file) }
            default: throw CommandRunner.BadParameter(message: "mode must be write or append")
            }
            let info = FileSystem.status(file, followingSymlinks: true)
            return [
                "path": .string(file), "size": .int(Int64(info?.st_size ?? 0)),
                "modified": .string(
                    APIJSON.formatTimestamp(Date(timeIntervalSince1970: Double(info?.st_mtim.tv_sec ?? 0)))),
            ]
        case "shell/exec":
            guard let command = params["command"]?.stringValue, !command.isEmpty else {
                throw CommandRunner.BadParameter(message: "command is required")
            }
            let timeout = params["timeout"]?.doubleValue ?? params["timeout"]?.stringValue.flatMap(Double.init) ?? 30
            guard timeout > 0, timeout <= 3600 else {
                throw CommandRunner.BadParameter(message: "timeout must be between 0 and 3600 seconds")
            }
            let directory =
                params["working_directory"]?.stringValue == nil
                ? configuration.homeDirectory : try path("working_directory")
            let result = try await TerminalCommand(
                command: command, workingDirectory: directory,
                environment: TerminalCommand.environment(
                    home: configuration.homeDirectory, extra: configuration.terminalEnvironment),
                timeout: .milliseconds(Int64(timeout * 1000))
            ).run()
            return [
                "stdout": .string(String(decoding: result.stdout, as: UTF8.self)),
                "stderr": .string(String(decoding: result.stderrTail, as: UTF8.self)),
                "exit_code": .int(Int64(result.status)), "timeout_reached": .bool(result.timedOut),
            ]
        default:
            throw CommandRunner.BadParameter(message: "unknown action '\(action)'")
        }
    }

    /// File problems are the caller's to fix (a missing file, a refused path): 400.
    static func mapped<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let problem as FileProblem {
            throw CommandRunner.BadParameter(message: problem.description)
        }
    }

    static func entries(of directory: String) throws -> [JSONValue] {
        guard let handle = opendir(directory) else {
            throw CommandRunner.BadParameter(message: "cannot list '\(directory)': \(String(cString: strerror(errno)))")
        }
        defer { closedir(handle) }
        var entries: [JSONValue] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let full = directory == "/" ? "/" + name : directory + "/" + name
            let info = FileSystem.status(full, followingSymlinks: true)
            let isDirectory = (info?.st_mode ?? 0) & S_IFMT == S_IFDIR
            entries.append([
                "name": .string(name), "path": .string(full), "is_dir": .bool(isDirectory),
                "size": .int(Int64(info?.st_size ?? 0)),
                "modified": .string(
                    APIJSON.formatTimestamp(Date(timeIntervalSince1970: Double(info?.st_mtim.tv_sec ?? 0)))),
            ])
        }
        return entries.sorted {
            ($0.objectValue?["name"]?.stringValue ?? "") < ($1.objectValue?["name"]?.stringValue ?? "")
        }
    }
}
