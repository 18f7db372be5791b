import ArgumentParser
import Desktop
import Dispatch

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// JSON on stdout, one object per command, keys sorted so output is stable.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = .convertToSnakeCase
    var data = try encoder.encode(value)
    data.append(0x0A)
    data.withUnsafeBytes { _ = writeAll(STDOUT_FILENO, $0) }
}

struct Done: Encodable {
    var ok = true
}

/// A failure already reported to the user; exits with `code` without ArgumentParser's usage text.
struct Failure: Error, CustomStringConvertible {
    var description: String
}

struct DisplayOptions: ParsableArguments {
    @Option(name: .customLong("display"), help: "X display to use (default: $DISPLAY).")
    var display: String?
}

/// Opens the display, runs `body`, and closes the display. SIGINT and SIGTERM cancel the
/// action: the driver releases every key and button it pressed and restores the keymap
/// before the process exits. Errors become a clear message and exit code 1.
func withDesktop<T: Sendable>(
    _ options: DisplayOptions, keepHeldInput: Bool = true,
    _ body: @escaping @Sendable (X11Desktop) async throws -> T
) async throws -> T {
    // Ignored from the start, so a signal that arrives before its handler is ready cannot
    // kill the process in the middle of an action with keys down.
    for number in [SIGINT, SIGTERM] { signal(number, SIG_IGN) }
    let desktop: X11Desktop
    do {
        desktop = try await X11Desktop(.init(displayName: options.display))
    } catch {
        throw fail(error)
    }
    let work = Task { try await body(desktop) }
    let signals = [SIGINT, SIGTERM].map { number in
        let source = DispatchSource.makeSignalSource(signal: number)
        source.setEventHandler { work.cancel() }
        source.resume()
        return source
    }
    defer { for source in signals { source.cancel() } }
    do {
        let result = try await work.value
        await desktop.close(releasingHeldInput: !keepHeldInput)
        return result
    } catch {
        await desktop.close(releasingHeldInput: true)
        throw fail(error)
    }
}

func fail(_ error: Error) -> Error {
    if error is CancellationError {
        printError("cyberdesk-agent: cancelled; held keys and buttons were released")
        return ExitCode(130)
    }
    printError("cyberdesk-agent: error: \(error)")
    return ExitCode.failure
}
