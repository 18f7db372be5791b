#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Small files that hold secrets or must be written whole: created with mode 0600 before a
/// byte is written, replaced atomically by rename.
enum SecretFile {
    enum Failure: Error, CustomStringConvertible {
        case io(String)
        var description: String {
            switch self {
            case .io(let message): message
            }
        }
    }

    static func read(_ path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw Failure.io("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw Failure.io("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            bytes += buffer[0..<count]
        }
        return bytes
    }

    /// Writes `bytes` to `path` through a temporary file in the same directory and a rename,
    /// so readers see the old or the new content, never a part.
    static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o600) throws {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let code = errno
            throw DiskFull.error(
                errno: code, otherwise: Failure.io("cannot create \(temporary): \(String(cString: strerror(code)))"))
        }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                let code = errno
                if code == EINTR { continue }
                close(fd)
                unlink(temporary)
                throw DiskFull.error(
                    errno: code, otherwise: Failure.io("cannot write \(path): \(String(cString: strerror(code)))"))
            }
            offset += written
        }
        if fsync(fd) != 0 || close(fd) != 0 {
            let code = errno
            unlink(temporary)
            throw DiskFull.error(
                errno: code, otherwise: Failure.io("cannot write \(path): \(String(cString: strerror(code)))"))
        }
        guard rename(temporary, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temporary)
            throw Failure.io("cannot write \(path): \(message)")
        }
    }

    static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, mode) != 0, errno != EEXIST {
                throw Failure.io("cannot create directory \(current): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// Makes `path` a file only its owner may read: created empty with mode 0600 when
    /// missing, tightened to 0600 when it exists.
    static func makePrivate(_ path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Failure.io("cannot create \(path): \(reason(errno))") }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw Failure.io("cannot make \(path) private: \(reason(errno))") }
    }

    /// What an errno means for the operator; a read-only data dir said in plain words.
    static func reason(_ code: Int32) -> String {
        code == EROFS
            ? "its directory or file system is read-only" : String(cString: strerror(code))
    }

    /// Tightens an existing file to mode 0600; a missing file is fine.
    static func tighten(_ path: String) throws {
        guard chmod(path, 0o600) == 0 || errno == ENOENT else {
            throw Failure.io("cannot make \(path) private: \(reason(errno))")
        }
    }

    static func remove(_ path: String) {
        unlink(path)
    }
}
