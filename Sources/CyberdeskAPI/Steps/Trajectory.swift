/// Validation and analysis of a whole trajectory (`trajectory_data`), shared by the server
/// (on create and update) and the agent (before running).
public enum Trajectory {
    /// Longer trajectories are almost certainly a mistake (a loop in a recorder) and would make
    /// every run's payload and history unreasonably large.
    public static let maxSteps = 10_000

    /// The largest string argument, in UTF-8 bytes (1 MiB). Bigger content belongs in a file
    /// input, not in a step typed or written in one piece.
    public static let maxStringArgumentBytes = 1 << 20

    /// Parses every step, or throws the first problem found, naming the step.
    public static func validate(_ steps: [JSONValue]) throws(TrajectoryValidationError) -> [Step] {
        guard !steps.isEmpty else { throw .noSteps }
        guard steps.count <= maxSteps else { throw .tooManySteps(count: steps.count) }
        var parsed: [Step] = []
        parsed.reserveCapacity(steps.count)
        for (index, step) in steps.enumerated() {
            parsed.append(try Step(parsing: step, index: index))
        }
        return parsed
    }

    /// Every sensitive input used (`{$name}`), so the server can reject a run that does not
    /// provide one (400 at creation rather than a failure half-way through the run).
    public static func sensitiveNames(in steps: [Step]) -> Set<String> {
        names(in: steps, \.secretNames)
    }

    /// Every input referenced as `{name}` or `{name.path}`, as written (`patient.age`; the
    /// input itself is the part before the first dot). These are not required: a `{…}` that
    /// names no input is typed as is, so the server may only warn about them.
    public static func inputNames(in steps: [Step]) -> Set<String> {
        names(in: steps, \.inputNames)
    }

    /// Every runtime value referenced as `{{name}}`, as written.
    public static func runtimeNames(in steps: [Step]) -> Set<String> {
        names(in: steps, \.runtimeNames)
    }

    private static func names(in steps: [Step], _ names: (Template) -> [String]) -> Set<String> {
        var result: Set<String> = []
        for step in steps {
            for string in step.templatedStrings where string.contains("{") {
                result.formUnion(names(Template(string)))
            }
        }
        return result
    }
}
