import ArgumentParser
import CyberdeskRelease

@main
struct CyberdeskAgent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cyberdesk-agent",
        abstract: "The Cyberdesk machine daemon for Linux desktops, and debug commands for every desktop action.",
        discussion: """
            Debug commands act on the X display in DISPLAY and print JSON on stdout. \
            On failure they print a message on stderr and exit non-zero.
            """,
        version: CyberdeskVersion.current,
        subcommands: [
            Join.self, RunDaemon.self, Status.self, ResetIdentity.self,
            Doctor.self, Screenshot.self, Dimensions.self, Position.self, Move.self, Click.self,
            Drag.self, Scroll.self, TypeText.self, Key.self, Clipboard.self, Release.self, Record.self,
        ]
    )
}
