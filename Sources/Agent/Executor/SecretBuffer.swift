#if canImport(Glibc)
    import Glibc
#endif

/// The value of a sensitive input for the instant it is typed, in memory the executor owns
/// and wipes.
///
/// What Swift allows, and what it does not:
/// - The bytes live in one manually allocated buffer that `deinit` overwrites with
///   `explicit_bzero` (which the compiler may not drop as a dead store) before freeing it.
///   The type is non-copyable, so no silent copy of the buffer exists.
/// - The `Desktop` protocol types `String`s. The buffer is handed over in pieces of at most 15
///   UTF-8 bytes: a Swift `String` that short is stored inline (a "small string", in
///   registers or on the stack), so no heap copy of the secret is made for typing.
/// - The secret arrives from ``RunEnvironment/secret(named:)`` as a `JSONValue` string,
///   whose heap storage Swift gives no way to overwrite; it is copied into this buffer at
///   once and released. A byte-buffer variant of that API would close this gap.
/// - What the desktop driver does with each piece (key symbols in its own arrays) is beyond
///   the executor's reach.
struct SecretBuffer: ~Copyable {
    private let storage: UnsafeMutableBufferPointer<UInt8>
    let count: Int

    /// The longest UTF-8 text a Swift `String` stores inline on 64-bit platforms.
    static let inlineLimit = 15

    init(copying value: String) {
        let count = value.utf8.count
        storage = .allocate(capacity: max(count, 1))
        storage.initialize(repeating: 0)
        var index = 0
        for byte in value.utf8 {
            storage[index] = byte
            index += 1
        }
        self.count = count
    }

    deinit {
        explicit_bzero(storage.baseAddress!, storage.count)
        storage.deallocate()
    }

    /// Calls `body` with consecutive pieces of the text, each at most ``inlineLimit`` bytes,
    /// split only between Unicode scalars and never inside a `\r\n` (typed as one Return).
    func forEachPiece(_ body: (String) async throws -> Void) async throws {
        var start = 0
        while start < count {
            var end = min(start + Self.inlineLimit, count)
            // Back up to the first byte of a scalar (continuation bytes are 10xxxxxx).
            while end < count, end > start + 1, storage[end] & 0xC0 == 0x80 { end -= 1 }
            if end < count, end > start + 1, storage[end - 1] == 0x0D, storage[end] == 0x0A { end -= 1 }
            let piece = String(decoding: UnsafeBufferPointer(rebasing: storage[start..<end]), as: UTF8.self)
            try await body(piece)
            start = end
        }
    }
}
