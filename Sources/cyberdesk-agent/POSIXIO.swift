#if canImport(Glibc)
    import Glibc
#endif

// Plain read(2)/write(2) helpers instead of Foundation's FileHandle: with them the executable
// links only FoundationEssentials (for JSONEncoder), and each process skips loading
// libFoundation and ICU, a large share of a short command's run time.

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR. Returns errno on failure.
@discardableResult
func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
    bytes.withUnsafeBytes { writeAll(fd, $0) }
}

@discardableResult
func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> Int32? {
    guard let base = buffer.baseAddress else { return nil }
    var offset = 0
    while offset < buffer.count {
        let count = write(fd, base + offset, buffer.count - offset)
        if count < 0 {
            if errno == EINTR { continue }
            return errno
        }
        offset += count
    }
    return nil
}

/// Writes a line of text to standard error.
func printError(_ message: String) {
    writeAll(STDERR_FILENO, Array((message + "\n").utf8))
}

/// Reads `fd` until end of file.
func readAll(_ fd: Int32) -> [UInt8] {
    var result: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0, errno == EINTR { continue }
        if count <= 0 { return result }
        result.append(contentsOf: chunk[0..<count])
    }
}

/// The reason for `code`, as `strerror` words it ("No such file or directory").
func errorMessage(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then rename(2),
/// so a reader never sees a half-written file. Throws the errno message.
func writeFileAtomically(_ bytes: [UInt8], to path: String) throws(POSIXIOError) {
    let slash = path.lastIndex(of: "/")
    let folder = slash.map { String(path[...$0]) } ?? ""
    let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
    var template = Array("\(folder).\(base).XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else { throw POSIXIOError(code: errno) }
    let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    var failure = bytes.withUnsafeBytes { writeAll(fd, $0) }
    // mkstemp creates the file 0600; give it the permissions a new file normally gets.
    let mask = umask(0)
    umask(mask)
    if failure == nil, fchmod(fd, 0o666 & ~mask) != 0 { failure = errno }
    if close(fd) != 0, failure == nil { failure = errno }
    if failure == nil, rename(temporary, path) != 0 { failure = errno }
    if let failure {
        unlink(temporary)
        throw POSIXIOError(code: failure)
    }
}

/// A failed system call, described by its errno.
struct POSIXIOError: Error, CustomStringConvertible {
    var code: Int32
    var description: String { errorMessage(code) }
}
