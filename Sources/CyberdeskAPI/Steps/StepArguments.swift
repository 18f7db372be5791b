/// The arguments of one step, positional and named merged, with typed accessors whose
/// errors name the step.
///
/// Merging: `args[i]` binds the i-th positional parameter, then each `kwargs` entry binds its
/// name and wins over a positional value, except that a named `null` does not erase a
/// positional value. A `null` counts as "not given" for every accessor but ``raw(_:)``, so
/// optional arguments may be sent as `null`.
///
/// Unknown named arguments and surplus positional ones are rejected: a misspelled optional
/// argument would otherwise silently fall back to its default in the middle of a run.
struct StepArguments {
    let index: Int
    let funcName: String
    private var values: [String: JSONValue] = [:]

    /// - Parameters:
    ///   - positional: the parameters `args` binds, in order.
    ///   - namedOnly: parameters accepted only in `kwargs` (an alias's fixed argument).
    ///   - sensitiveAllowedIn: the one argument that may contain `{$name}` (the text of `type`).
    init(
        step: JSONObject, index: Int, funcName: String, positional: [String], namedOnly: [String] = [],
        sensitiveAllowedIn: String? = nil
    ) throws(TrajectoryValidationError) {
        self.index = index
        self.funcName = funcName
        let accepted = positional + namedOnly

        switch step["args"] {
        case nil, .null?: break
        case .array(let args)?:
            guard args.count <= positional.count else {
                throw TrajectoryValidationError.invalidStep(
                    index: index, funcName: funcName,
                    problem: .tooManyPositionalArguments(given: args.count, accepted: positional))
            }
            for (position, value) in args.enumerated() { values[positional[position]] = value }
        case let other?:
            throw .invalidStep(index: index, funcName: funcName, problem: .argsNotAnArray(got: other.typeName))
        }

        switch step["kwargs"] {
        case nil, .null?: break
        case .object(let kwargs)?:
            for name in kwargs.keys.sorted() {
                guard accepted.contains(name) else {
                    throw .invalidStep(
                        index: index, funcName: funcName, problem: .unknownArgument(name, accepted: accepted))
                }
                let value = kwargs[name]!
                if value != .null || values[name] == nil { values[name] = value }
            }
        case let other?:
            throw .invalidStep(index: index, funcName: funcName, problem: .kwargsNotAnObject(got: other.typeName))
        }

        // In parameter order, so that the first problem reported does not depend on hashing.
        for name in accepted {
            guard let value = values[name] else { continue }
            for string in value.allStrings {
                guard string.utf8.count <= Trajectory.maxStringArgumentBytes else {
                    throw .invalidStep(
                        index: index, funcName: funcName,
                        problem: .stringTooLong(argument: name, bytes: string.utf8.count))
                }
                if name != sensitiveAllowedIn, string.contains("{$"), let secret = Template(string).secretNames.first {
                    throw .invalidStep(
                        index: index, funcName: funcName,
                        problem: .sensitiveInputNotAllowed(argument: name, name: secret))
                }
            }
        }
    }

    func failure(_ problem: StepProblem) -> TrajectoryValidationError {
        .invalidStep(index: index, funcName: funcName, problem: problem)
    }

    /// The value as given, `null` included; nil only when the argument is absent.
    func raw(_ name: String) -> JSONValue? {
        values[name]
    }

    /// The value, treating `null` as absent.
    func value(_ name: String) -> JSONValue? {
        guard let value = values[name], value != .null else { return nil }
        return value
    }

    func required(_ name: String) throws(TrajectoryValidationError) -> JSONValue {
        guard let value = value(name) else { throw failure(.missingArgument(name)) }
        return value
    }

    // MARK: Numbers

    func number(_ name: String) throws(TrajectoryValidationError) -> Double? {
        guard let value = value(name) else { return nil }
        guard let number = value.doubleValue else {
            throw failure(.wrongType(argument: name, expected: "a number", got: StepArguments.describe(value)))
        }
        guard number.isFinite else {
            throw failure(.wrongType(argument: name, expected: "a finite number", got: value.templateText))
        }
        return number
    }

    func requiredNumber(_ name: String) throws(TrajectoryValidationError) -> Double {
        guard let number = try number(name) else { throw failure(.missingArgument(name)) }
        return number
    }

    func integer(_ name: String) throws(TrajectoryValidationError) -> Int? {
        guard try number(name) != nil, let value = value(name) else { return nil }
        guard let integer = value.intValue, let result = Int(exactly: integer) else {
            throw failure(.notAWholeNumber(argument: name, value: value.templateText))
        }
        return result
    }

    func requiredInteger(_ name: String) throws(TrajectoryValidationError) -> Int {
        guard let integer = try integer(name) else { throw failure(.missingArgument(name)) }
        return integer
    }

    // MARK: Strings, booleans, choices, objects

    func string(_ name: String) throws(TrajectoryValidationError) -> String? {
        guard let value = value(name) else { return nil }
        guard case .string(let string) = value else {
            throw failure(.wrongType(argument: name, expected: "a string", got: StepArguments.describe(value)))
        }
        return string
    }

    func requiredString(_ name: String) throws(TrajectoryValidationError) -> String {
        guard let string = try string(name) else { throw failure(.missingArgument(name)) }
        return string
    }

    /// A string that must not be empty when given (paths, keys, commands).
    func nonEmptyString(_ name: String) throws(TrajectoryValidationError) -> String? {
        guard let string = try string(name) else { return nil }
        guard !string.isEmpty else { throw failure(.empty(argument: name)) }
        return string
    }

    func requiredNonEmptyString(_ name: String) throws(TrajectoryValidationError) -> String {
        guard let string = try nonEmptyString(name) else { throw failure(.missingArgument(name)) }
        return string
    }

    func bool(_ name: String) throws(TrajectoryValidationError) -> Bool? {
        guard let value = value(name) else { return nil }
        guard case .bool(let bool) = value else {
            throw failure(.wrongType(argument: name, expected: "true or false", got: StepArguments.describe(value)))
        }
        return bool
    }

    func choice<Choice: RawRepresentable & CaseIterable>(
        _ name: String, as _: Choice.Type = Choice.self
    ) throws(TrajectoryValidationError) -> Choice? where Choice.RawValue == String {
        guard let value = value(name) else { return nil }
        let allowed = Choice.allCases.map(\.rawValue)
        guard case .string(let string) = value, let choice = Choice(rawValue: string) else {
            throw failure(.notOneOf(argument: name, allowed: allowed, got: StepArguments.describe(value)))
        }
        return choice
    }

    func object(_ name: String) throws(TrajectoryValidationError) -> JSONObject? {
        guard let value = value(name) else { return nil }
        guard case .object(let object) = value else {
            throw failure(.wrongType(argument: name, expected: "an object", got: StepArguments.describe(value)))
        }
        return object
    }

    /// x and y given together or not at all.
    func optionalPoint(_ xName: String, _ yName: String) throws(TrajectoryValidationError) -> (Double?, Double?) {
        let x = try number(xName)
        let y = try number(yName)
        if x != nil, y == nil { throw failure(.coordinateWithoutPartner(given: xName, missing: yName)) }
        if y != nil, x == nil { throw failure(.coordinateWithoutPartner(given: yName, missing: xName)) }
        return (x, y)
    }

    /// A value as it appears in an error: its type, and the text of short strings (a step's
    /// strings come from the trajectory, never from a secret, so showing them is safe).
    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .string(let string):
            let shown = string.count > 40 ? String(string.prefix(40)) + "…" : string
            let hint = string.contains("{") ? " (templates are only applied to text arguments)" : ""
            return "the string \"\(shown)\"" + hint
        case .int, .double:
            return "the number \(value.templateText)"
        case .bool(let bool):
            return bool ? "true" : "false"
        case .null:
            return "null"
        case .array:
            return "an array"
        case .object:
            return "an object"
        }
    }
}
