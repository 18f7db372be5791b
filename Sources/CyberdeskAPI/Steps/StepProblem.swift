/// What is wrong with one step; see ``TrajectoryValidationError``.
public enum StepProblem: Sendable, Hashable, CustomStringConvertible {
    case notAnObject(got: String)
    case missingFuncName
    case funcNameNotAString(got: String)
    /// `suggestion` is the closest known func_name, when one is close enough to be a typo.
    case unknownFuncName(String, suggestion: String?)
    case argsNotAnArray(got: String)
    case kwargsNotAnObject(got: String)
    case tooManyPositionalArguments(given: Int, accepted: [String])
    case unknownArgument(String, accepted: [String])
    case missingArgument(String)
    /// `got` describes the value: its JSON type, and the text for strings.
    case wrongType(argument: String, expected: String, got: String)
    case notAWholeNumber(argument: String, value: String)
    case outOfRange(argument: String, requirement: String, value: String)
    case notOneOf(argument: String, allowed: [String], got: String)
    case empty(argument: String)
    case stringTooLong(argument: String, bytes: Int)
    case sensitiveInputNotAllowed(argument: String, name: String)
    case coordinateWithoutPartner(given: String, missing: String)
    case unknownKeyName(String, text: String)
    case invalidKeyChord(String, reason: String)
    case conflictsWithAlias(argument: String, alias: String, fixedValue: String)

    public var description: String {
        switch self {
        case .notAnObject(let got):
            return "must be an object with 'func_name' (and optional 'args', 'kwargs'), got \(got)"
        case .missingFuncName:
            return "missing 'func_name'"
        case .funcNameNotAString(let got):
            return "'func_name' must be a string, got \(got)"
        case .unknownFuncName(let name, let suggestion?):
            return "unknown func_name '\(name)' (did you mean '\(suggestion)'?)"
        case .unknownFuncName(let name, nil):
            return "unknown func_name '\(name)'"
        case .argsNotAnArray(let got):
            return "'args' must be an array of positional arguments, got \(got)"
        case .kwargsNotAnObject(let got):
            return "'kwargs' must be an object of named arguments, got \(got)"
        case .tooManyPositionalArguments(let given, let accepted):
            if accepted.isEmpty {
                return "takes no arguments, got \(given) positional"
            }
            return "too many positional arguments: got \(given), at most \(accepted.count) accepted "
                + "(\(accepted.joined(separator: ", ")))"
        case .unknownArgument(let name, let accepted):
            if accepted.isEmpty {
                return "unknown argument '\(name)' (this function takes no arguments)"
            }
            return "unknown argument '\(name)' (accepted: \(accepted.joined(separator: ", ")))"
        case .missingArgument(let name):
            return "missing required argument '\(name)'"
        case .wrongType(let argument, let expected, let got):
            return "'\(argument)' must be \(expected), got \(got)"
        case .notAWholeNumber(let argument, let value):
            return "'\(argument)' must be a whole number, got \(value)"
        case .outOfRange(let argument, let requirement, let value):
            return "'\(argument)' must be \(requirement), got \(value)"
        case .notOneOf(let argument, let allowed, let got):
            return "'\(argument)' must be one of \(allowed.joined(separator: ", ")), got \(got)"
        case .empty(let argument):
            return "'\(argument)' must not be empty"
        case .stringTooLong(let argument, let bytes):
            return "'\(argument)' is \(bytes) bytes long; a string argument may be at most 1 MiB "
                + "(\(Trajectory.maxStringArgumentBytes) bytes)"
        case .sensitiveInputNotAllowed(let argument, let name):
            return "'\(argument)' uses the sensitive input {$\(name)}; sensitive inputs are only allowed "
                + "in the text of a type step"
        case .unknownKeyName(let name, let text):
            return "unknown key name '\(name)' in '\(text)'; use names like ctrl, shift, alt, super, enter, tab, "
                + "esc, pagedown, f1-f24, an X keysym name or a single character"
        case .invalidKeyChord(let chord, let reason):
            return "cannot read the key chord '\(chord)': \(reason)"
        case .coordinateWithoutPartner(let given, let missing):
            return "'\(given)' is given without '\(missing)'; give both or neither"
        case .conflictsWithAlias(let argument, let alias, let fixedValue):
            return "'\(argument)' is always \(fixedValue) for \(alias); use click (or drag) to choose it"
        }
    }
}
