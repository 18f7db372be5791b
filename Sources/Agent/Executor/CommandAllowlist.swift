/// The workflow's `terminal_command_allowlist` and the rule a command must pass.
///
/// The rule, word by word: a command is allowed when its first words are the words of an
/// entry (whitespace separates words, and its amount does not matter) and whatever follows
/// them contains no shell operator: `;`, `&`, `|`, `<`, `>`, a backquote, `$(` or a line
/// break. So `git status` allows `git status --short` but neither `git push` nor
/// `git status; rm -rf ~`, and `ls` allows `ls -la /tmp` but not `lsblk`. An entry may itself
/// contain operators (`ps aux | grep app`): the author wrote them out, so they are allowed, and
/// arguments may still follow.
///
/// The check runs on the command after templates are applied, so an input value cannot
/// smuggle an operator in. No allowlist (nil) allows every command; an empty list allows none.
struct CommandAllowlist: Sendable {
    let entries: [String]

    static let operators: [String] = [";", "&", "|", "<", ">", "`", "$(", "\n", "\r"]

    /// Nil when the command is allowed, else why it is not.
    func refusal(for command: String) -> String? {
        let allowed = entries.filter { !$0.allSatisfy(\.isWhitespace) }
        guard !allowed.isEmpty else {
            return "the workflow's terminal_command_allowlist is empty, so no command may run"
        }
        var operatorAfter: (entry: String, symbol: String)?
        for entry in allowed {
            guard let rest = Self.remainder(of: command, after: entry) else { continue }
            guard let symbol = Self.operators.first(where: { rest.contains($0) }) else { return nil }
            operatorAfter = operatorAfter ?? (entry, symbol)
        }
        let list = allowed.map { "'\($0)'" }.joined(separator: ", ")
        if let (entry, symbol) = operatorAfter {
            let shown = symbol == "\n" || symbol == "\r" ? "a line break" : "'\(symbol)'"
            return "the command adds the shell operator \(shown) after the allowed '\(entry)'; "
                + "the workflow's terminal_command_allowlist allows \(list)"
        }
        return "the command is not in the workflow's terminal_command_allowlist (allowed: \(list))"
    }

    /// The text of `command` after the words of `entry`, when it starts with them.
    static func remainder(of command: String, after entry: String) -> Substring? {
        var rest = command[...].drop(while: \.isWhitespace)
        for word in entry.split(whereSeparator: \.isWhitespace) {
            guard rest.hasPrefix(word) else { return nil }
            rest = rest.dropFirst(word.count)
            // The word must end here: `ls` does not match `lsblk`.
            if let next = rest.first, !next.isWhitespace { return nil }
            rest = rest.drop(while: { $0.isWhitespace && $0 != "\n" && $0 != "\r" })
        }
        return rest
    }
}
