import Desktop
import Foundation
import TestSupport
import Testing

@testable import CyberdeskAPI

/// The server checks key names without X11 (`KeyVocabulary`); the agent resolves them with
/// libX11 (`KeyNames`). They must agree, or the server refuses trajectories the agent would
/// run, or accepts ones it would fail.
@Suite("Key names: the server's check agrees with the agent's resolver")
struct KeyVocabularyTests {
    @Test("libX11 knows every keysym name and alias the server accepts")
    func everyListedNameResolves() {
        let names = KeysymNames.all.map(String.init) + KeyVocabulary.aliases.keys
        #expect(names.count > 2000)
        let unresolved = names.filter { KeyNames.keysym(for: $0) == nil }
        #expect(unresolved.isEmpty, "\(unresolved.prefix(20))")
        #expect(names.allSatisfy(KeyVocabulary.isKnown))
    }

    static let pieces = [
        "ctrl", "Ctrl", "CONTROL", "shift", "alt", "super", "page", "_", "-", "down", "Down", "f", "F", "1", "2", "4",
        "x", "q", "U", "u", "0x", "0X", "20ac", "A", "ff", "XF86", "Audio", "Play", "KP_", "Enter", "Return", "é", "日",
        "\u{0}", "\u{1}", "\u{7f}", "\u{85}", "+", "Mode_switch", "space", "BackSpace", "hyper",
    ]

    @Test(
        "random names: accepted by the server exactly when the agent resolves them", arguments: SeededGenerator.seeds(4)
    )
    func agreement(seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        var known = 0
        for _ in 0..<3000 {
            let count = Int.random(in: 1...4, using: &generator)
            let name = (0..<count).map { _ in Self.pieces.randomElement(using: &generator)! }.joined()
            let agent = KeyNames.keysym(for: name) != nil
            if agent { known += 1 }
            #expect(KeyVocabulary.isKnown(name) == agent, "seed \(seed): \(name.debugDescription): agent \(agent)")
        }
        #expect(known > 100, "seed \(seed): the generator also makes valid names (\(known))")
    }
}
