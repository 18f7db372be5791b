#if canImport(Glibc)
    import Glibc
#endif

/// What identifies one version of a file cheaply: a rewrite through a rename changes the
/// inode, an edit in place changes the size or the modification time.
struct FileSignature: Sendable, Hashable {
    var device: UInt64
    var inode: UInt64
    var size: Int64
    var modifiedSeconds: Int
    var modifiedNanoseconds: Int
}

/// The POSIX file operations the executor needs, as throwing functions (no `errno` outside).
///
/// Plain system calls rather than Foundation's `FileManager`: the executor needs `O_NOFOLLOW`,
/// `fsync` of the file and its directory, and exclusive creation of temporary files, which
/// `FileManager` does not expose.
enum FileSystem {
    static func status(_ path: String, followingSymlinks: Bool = false) -> stat? {
        var info = stat()
        let result = followingSymlinks ? stat(path, &info) : lstat(path, &info)
        return result == 0 ? info : nil
    }

    static func isDirectory(_ path: String) -> Bool {
        status(path, followingSymlinks: true).map { $0.st_mode & S_IFMT == S_IFDIR } ?? false
    }

    static func signature(of info: stat) -> FileSignature {
        FileSignature(
            device: UInt64(info.st_dev), inode: UInt64(info.st_ino), size: Int64(info.st_size),
            modifiedSeconds: Int(info.st_mtim.tv_sec), modifiedNanoseconds: Int(info.st_mtim.tv_nsec))
    }

    /// `realpath(3)`: the path with every symlink, `.` and `..` resolved; the file must exist.
    static func realPath(_ path: String) throws(FileProblem) -> String {
        guard let resolved = realpath(path, nil) else {
            throw .system(operation: "resolve", path: path, errno: errno)
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Resolves symlinks in an absolute path whose last components may not exist yet: the
    /// longest existing prefix goes through `realpath`, the rest is appended as is (callers
    /// reject `..` beforehand, so the rest cannot climb back out).
    static func resolve(_ path: String) throws(FileProblem) -> String {
        var existing = path
        var missing: [Substring] = []
        while true {
            if status(existing) != nil {
                if let resolved = realpath(existing, nil) {
                    defer { free(resolved) }
                    let base = String(cString: resolved)
                    let rest = missing.reversed().joined(separator: "/")
                    guard !rest.isEmpty else { return base }
                    return base == "/" ? "/" + rest : base + "/" + rest
                }
                // A symlink whose target does not exist: following it would create a file
                // wherever it points, so it is refused instead.
                if errno == ENOENT, let info = status(existing), info.st_mode & S_IFMT == S_IFLNK {
                    throw .refused("'\(existing)' is a symbolic link to a file that does not exist")
                }
                throw .system(operation: "resolve", path: existing, errno: errno)
            }
            guard let slash = existing.lastIndex(of: "/"), existing != "/" else {
                throw .system(operation: "resolve", path: path, errno: ENOENT)
            }
            missing.append(existing[existing.index(after: slash)...])
            existing = slash == existing.startIndex ? "/" : String(existing[..<slash])
        }
    }

    /// `mkdir -p`: creates the missing directories of `path` with `mode`.
    static func createDirectories(_ path: String, mode: mode_t = 0o755) throws(FileProblem) {
        if isDirectory(path) { return }
        if let slash = path.lastIndex(of: "/"), slash != path.startIndex {
            try createDirectories(String(path[..<slash]), mode: mode)
        }
        if mkdir(path, mode) != 0, errno != EEXIST {
            throw .system(operation: "create the directory", path: path, errno: errno)
        }
        guard isDirectory(path) else {
            throw .system(operation: "create the directory", path: path, errno: ENOTDIR)
        }
    }

    /// Replaces `path` atomically: a temporary file in the same directory is written, synced
    /// and renamed over it, so readers see the old content or the new, never a part. A file
    /// that existed keeps its permissions; a new one gets `mode`.
    static func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(FileProblem) {
        let slash = path.lastIndex(of: "/")!
        let directory = slash == path.startIndex ? "/" : String(path[..<slash])
        let name = String(path[path.index(after: slash)...])
        if let existing = status(path), existing.st_mode & S_IFMT == S_IFDIR {
            throw .system(operation: "write", path: path, errno: EISDIR)
        }
        let permissions = status(path).map { $0.st_mode & 0o7777 } ?? mode
        var temporary = ""
        var fd: Int32 = -1
        for _ in 0..<16 {
            let suffix = String(UInt64.random(in: 0...UInt64.max), radix: 36)
            temporary = (directory == "/" ? "" : directory) + "/." + name + ".cyberdesk-" + suffix
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 || errno != EEXIST { break }
        }
        guard fd >= 0 else { throw .system(operation: "create a file in", path: directory, errno: errno) }
        var closed = false
        do throws(FileProblem) {
            try writeAll(fd, bytes, path: path)
            guard fchmod(fd, permissions) == 0 else {
                throw .system(operation: "set permissions of", path: path, errno: errno)
            }
            guard fsync(fd) == 0 else { throw .system(operation: "sync", path: path, errno: errno) }
            closed = true
            guard close(fd) == 0 else { throw .system(operation: "write", path: path, errno: errno) }
            guard rename(temporary, path) == 0 else { throw .system(operation: "replace", path: path, errno: errno) }
        } catch {
            if !closed { close(fd) }
            unlink(temporary)
            throw error
        }
        syncDirectory(directory)
    }

    /// Appends to `path`, creating it when missing. The final component must not be a symlink
    /// (callers pass resolved paths; a link appearing meanwhile is refused, not followed).
    /// Renames a finished temporary file over `target` and syncs the directory, so the
    /// target holds the old content or the new, never a part.
    static func moveIntoPlace(_ temporary: String, _ target: String) throws(FileProblem) {
        guard rename(temporary, target) == 0 else {
            throw .system(operation: "rename", path: target, errno: errno)
        }
        if let slash = target.lastIndex(of: "/") { syncDirectory(String(target[..<slash])) }
    }

    static func append(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644) throws(FileProblem) {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .system(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        try writeAll(fd, bytes, path: path)
        guard fsync(fd) == 0 else { throw .system(operation: "sync", path: path, errno: errno) }
    }

    /// The whole content of a regular file, refusing files over `limit` bytes.
    static func read(_ path: String, limit: Int) throws(FileProblem) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .system(operation: "read", path: path, errno: errno) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw .system(operation: "read", path: path, errno: info.st_mode & S_IFMT == S_IFDIR ? EISDIR : EINVAL)
        }
        guard info.st_size <= limit else { throw .tooLarge(path: path, bytes: Int(info.st_size), limit: limit) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "read", path: path, errno: errno)
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            // The file may grow while it is read.
            guard bytes.count <= limit else { throw .tooLarge(path: path, bytes: bytes.count, limit: limit) }
        }
        return bytes
    }

    static func remove(_ path: String) throws(FileProblem) {
        guard unlink(path) == 0 || errno == ENOENT else {
            throw .system(operation: "delete", path: path, errno: errno)
        }
    }

    /// Every regular file under `root` (recursively) with its signature. Symlinks are not
    /// followed, neither to files nor to directories, so the listing never leaves `root`.
    static func regularFiles(under root: String) -> [String: FileSignature] {
        var result: [String: FileSignature] = [:]
        var pending = [root]
        while let directory = pending.popLast() {
            guard let handle = opendir(directory) else { continue }
            defer { closedir(handle) }
            while let entry = readdir(handle) {
                var nameBytes = entry.pointee.d_name
                let capacity = MemoryLayout.size(ofValue: nameBytes)
                let name = withUnsafePointer(to: &nameBytes) {
                    $0.withMemoryRebound(to: UInt8.self, capacity: capacity) { String(cString: $0) }
                }
                if name == "." || name == ".." { continue }
                let path = directory == "/" ? "/" + name : directory + "/" + name
                guard let info = status(path) else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR: pending.append(path)
                case S_IFREG: result[path] = signature(of: info)
                default: break
                }
            }
        }
        return result
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(FileProblem) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw .system(operation: "write", path: path, errno: errno)
            }
            offset += written
        }
    }

    /// Makes a rename durable; a failure here loses nothing that was not already at risk.
    private static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}
