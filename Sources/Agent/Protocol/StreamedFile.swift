import Crypto
import NIOCore

#if canImport(Glibc)
    import Glibc
#endif

/// A file written or read in chunks, so transfers never hold a whole file in memory.
struct StreamedFile: ~Copyable {
    let fd: Int32
    let path: String

    /// A new file (0600) at `path`; it must not exist.
    init(creating path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw StreamedFileError("cannot create \(path): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0, errno == EINTR { continue }
            guard written >= 0 else {
                throw StreamedFileError("cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += written
        }
    }

    func finish() throws {
        guard fsync(fd) == 0 else {
            throw StreamedFileError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// SHA-256 and size of a file, read in chunks.
    static func digest(of path: String) throws -> (String, Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StreamedFileError("cannot read \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var hasher = SHA256()
        var size: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else {
                throw StreamedFileError("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            size += Int64(count)
        }
        return (SHA256Digest.hex(hasher.finalize()), size)
    }

    /// The file's bytes as a sequence of 64 KiB buffers, for a streamed request body.
    static func chunks(of path: String) -> AsyncThrowingStream<ByteBuffer, any Error> {
        AsyncThrowingStream { continuation in
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                continuation.finish(
                    throwing: StreamedFileError("cannot read \(path): \(String(cString: strerror(errno)))"))
                return
            }
            defer { close(fd) }
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                if count < 0 {
                    continuation.finish(
                        throwing: StreamedFileError("cannot read \(path): \(String(cString: strerror(errno)))"))
                    return
                }
                if count == 0 { break }
                continuation.yield(ByteBuffer(bytes: buffer[0..<count]))
            }
            continuation.finish()
        }
    }
}

struct StreamedFileError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
