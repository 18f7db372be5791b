import CyberdeskAPI
import FoundationEssentials

/// `fs/*` and `shell/exec` for computer commands, confined like run steps: paths resolve
/// (symlinks included) under the agent user's home.
struct CommandFilesAccess: CommandFiles {
    let configuration: ExecutorConfiguration

    func perform(_ action: String, _ params: JSONObject) async throws -> JSONValue {
        throw CommandRunner.BadParameter(message: "\(action) is not available yet on this agent")
    }
}
