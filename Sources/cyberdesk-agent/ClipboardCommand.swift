import ArgumentParser
import Desktop
import Foundation

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
            let data = stdin ? FileHandle.standardInput.readDataToEndOfFile() : Data((text ?? "").utf8)
            let server = Process()
            server.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
            if !FileManager.default.isExecutableFile(atPath: server.executableURL!.path) {
                server.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            }
            server.arguments = ["clipboard", "serve"] + (display.display.map { ["--display", $0] } ?? [])
            let input = Pipe(), ready = Pipe()
            server.standardInput = input
            server.standardOutput = ready
            do {
                try server.run()
            } catch {
                throw fail(DesktopError.invalidArgument("cannot start the clipboard server: \(error.localizedDescription)"))
            }
            input.fileHandleForWriting.write(data)
            try input.fileHandleForWriting.close()
            let line = String(decoding: ready.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            guard line.hasPrefix("ready") else {
                throw fail(DesktopError.clipboardConversionFailed("the clipboard server stopped before owning the clipboard"))
            }
            try printJSON(Result(characters: String(decoding: data, as: UTF8.self).unicodeScalars.count,
                                 servedByPid: server.processIdentifier))
        }
    }

    /// Internal: owns the clipboard until another client takes it. Started by `set`.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(shouldDisplay: false)
        @OptionGroup var display: DisplayOptions

        func run() async throws {
            let text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            setsid()
            try await withDesktop(display) { desktop in
                try await desktop.setClipboardText(text)
                // Tell `set` we own the clipboard, then let go of its pipe so it can exit.
                FileHandle.standardOutput.write(Data("ready\n".utf8))
                let devNull = open("/dev/null", O_RDWR)
                dup2(devNull, STDOUT_FILENO)
                dup2(devNull, STDIN_FILENO)
                await desktop.waitUntilClipboardLost()
            }
        }
    }
}
