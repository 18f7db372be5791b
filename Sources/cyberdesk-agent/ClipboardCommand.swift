import ArgumentParser
import Desktop

#if canImport(Glibc)
    import Glibc
#endif

struct Clipboard: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read or set the CLIPBOARD selection as text.",
        subcommands: [Get.self, Set.self, Serve.self])

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the clipboard text as JSON {\"text\": ...}.")
        @OptionGroup var display: DisplayOptions
        @Option(help: "Seconds to wait for the owner to answer.") var timeout: Double = 2

        struct Result: Encodable { var text: String }

        func run() async throws {
            let timeout = timeout
            let text = try await withDesktop(display) { try await $0.clipboardText(timeout: timeout) }
            try printJSON(Result(text: text))
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Own the clipboard with TEXT (or stdin).",
            discussion: """
                Like xclip, a background process keeps serving the text until another application \
                takes the clipboard; this command returns as soon as the text is available.
                """)
        @OptionGroup var display: DisplayOptions
        @Argument var text: String?
        @Flag(help: "Read the text from standard input.") var stdin = false

        struct Result: Encodable {
            var characters: Int
            var servedByPid: Int32
        }

        func validate() throws {
            guard (text != nil) != stdin else { throw ValidationError("give TEXT or --stdin (one of them)") }
        }

        func run() async throws {
            let data = stdin ? readAll(STDIN_FILENO) : Array((text ?? "").utf8)
            let server: ClipboardServer
            do {
                server = try ClipboardServer.start(display: display.display)
            } catch {
                throw fail(DesktopError.invalidArgument("cannot start the clipboard server: \(error)"))
            }
            // Ignore a write error: if the server died, the missing "ready" line reports it.
            writeAll(server.input, data)
            close(server.input)
            let line = String(decoding: readAll(server.ready), as: UTF8.self)
            close(server.ready)
            guard line.hasPrefix("ready") else {
                throw fail(
                    DesktopError.clipboardConversionFailed("the clipboard server stopped before owning the clipboard"))
            }
            try printJSON(
                Result(
                    characters: String(decoding: data, as: UTF8.self).unicodeScalars.count,
                    servedByPid: server.pid))
        }
    }

    /// Internal: owns the clipboard until another client takes it. Started by `set`.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(shouldDisplay: false)
        @OptionGroup var display: DisplayOptions

        func run() async throws {
            let text = String(decoding: readAll(STDIN_FILENO), as: UTF8.self)
            setsid()
            try await withDesktop(display) { desktop in
                try await desktop.setClipboardText(text)
                // Tell `set` we own the clipboard, then let go of its pipe so it can exit.
                writeAll(STDOUT_FILENO, Array("ready\n".utf8))
                let devNull = open("/dev/null", O_RDWR)
                dup2(devNull, STDOUT_FILENO)
                dup2(devNull, STDIN_FILENO)
                await desktop.waitUntilClipboardLost()
            }
        }
    }
}
