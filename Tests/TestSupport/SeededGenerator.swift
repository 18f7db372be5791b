import Foundation

/// A small deterministic generator (SplitMix64), so a failure reproduces from its seed.
/// Property and fuzz tests print the seed in every failure message; setting
/// `CYBERDESK_FUZZ_SEED` replays one seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public let seed: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The seeds a property test runs: `CYBERDESK_FUZZ_SEED` alone when set, else `0..<count`.
    public static func seeds(_ count: UInt64) -> [UInt64] {
        if let text = ProcessInfo.processInfo.environment["CYBERDESK_FUZZ_SEED"], let seed = UInt64(text) {
            return [seed]
        }
        return Array(0..<count)
    }
}
