import CyberdeskAPI

#if canImport(Glibc)
    import Glibc
#endif

/// The path rules of `STEPS.md` ("Paths and transfers") on this machine.
///
/// - `~` and `~/...` are the agent user's home; `~user` is refused.
/// - An absolute path is used as is; a relative one (a bare filename included) is inside the
///   transfers folder, and must still be inside it once symlinks are resolved.
/// - A `..` component is refused everywhere, so no path climbs out of where it says it is;
///   so are NUL and other control characters.
/// - Paths are resolved (symlinks included) before use: the executor reads, writes, imports
///   and exports the resolved file, and checks the rules on the resolved path.
/// - Exports must resolve into the transfers folder or one of the extra export roots.
struct TransferPaths: Sendable {
    let home: String
    let transfers: String
    let extraExportRoots: [String]

    init(_ configuration: ExecutorConfiguration) {
        home = configuration.homeDirectory
        transfers = configuration.transfersDirectory
        extraExportRoots = configuration.extraExportRoots
    }

    /// The absolute path a step's path means, before symlinks are resolved, and whether it
    /// was relative (and so must stay in the transfers folder).
    func expand(_ path: String) throws(FileProblem) -> (path: String, relative: Bool) {
        guard !path.isEmpty else { throw .refused("the path is empty") }
        guard !path.utf8.contains(0) else { throw .refused("the path contains a NUL character") }
        // Like the server's rule for file names: a newline or an escape sequence in a path
        // is a way to forge lines in listings and terminals, never a file anyone meant.
        if let control = path.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            let hex = String(control.value, radix: 16, uppercase: true)
            throw .refused(
                "the path contains the control character U+\(String(repeating: "0", count: 4 - hex.count) + hex); give it without control characters"
            )
        }
        if path.split(separator: "/", omittingEmptySubsequences: true).contains("..") {
            throw .refused("'\(path)' contains '..'; give the path without '..' components")
        }
        if path == "~" { return (home, false) }
        if path.hasPrefix("~/") { return (home + path.dropFirst(1), false) }
        if path.hasPrefix("~") {
            throw .refused("'\(path)': only '~' (the agent user's home) is supported, not '~user'")
        }
        if path.hasPrefix("/") { return (path, false) }
        return (transfers + "/" + path, true)
    }

    /// Expands and resolves a path a step reads or writes; the file need not exist.
    func resolve(_ path: String) throws(FileProblem) -> String {
        let (expanded, relative) = try expand(path)
        let resolved = try FileSystem.resolve(expanded)
        if relative {
            let root = try FileSystem.resolve(transfers)
            guard Self.isInside(resolved, root: root) else {
                throw .refused(
                    "'\(path)' leads outside \(transfers) through a symbolic link (it resolves to \(resolved))")
            }
        }
        return resolved
    }

    /// Where a file input lands: `target_path`, a directory when it ends with `/` or names one,
    /// and the transfers folder when it is missing. The directories are created if missing.
    func importTarget(for input: FileInputDescriptor) throws(FileProblem) -> String {
        let name = input.filename
        guard !name.isEmpty, !name.contains("/"), name != ".", name != "..", !name.utf8.contains(0) else {
            throw .refused("file input '\(name)': a filename must be a single path component")
        }
        let target: String
        if let given = input.targetPath, !given.isEmpty {
            let (expanded, _) = try expand(given)
            if given.hasSuffix("/") || FileSystem.isDirectory(expanded) {
                target = (given.hasSuffix("/") ? given : given + "/") + name
            } else {
                target = given
            }
        } else {
            target = name
        }
        if try expand(target).path.hasPrefix(transfers + "/") {
            try FileSystem.createDirectories(transfers, mode: 0o700)
        }
        let resolved = try resolve(target)
        if let slash = resolved.lastIndex(of: "/"), slash != resolved.startIndex {
            try FileSystem.createDirectories(String(resolved[..<slash]))
        }
        return resolved
    }

    /// The resolved path of a file that may be exported, or a refusal naming the allowed
    /// folders.
    /// For a run a model performs: `path` resolved, and inside the transfers folder or an
    /// export root. A model (or text on the screen it reads) is not an approved trajectory, so
    /// it may not read the agent's own files (its credential, the run's lease) or write
    /// outside the folders meant for the run's files.
    func confined(_ path: String) throws(FileProblem) -> String {
        let resolved = try resolve(path)
        guard exportRoots().contains(where: { Self.isInside(resolved, root: $0) }) else {
            throw .refused(
                "'\(path)' is outside the folders a run performed by a model may use: "
                    + ([transfers] + extraExportRoots).joined(separator: ", "))
        }
        return resolved
    }

    func exportable(_ path: String) throws(FileProblem) -> String {
        let (expanded, _) = try expand(path)
        let resolved = try FileSystem.realPath(expanded)
        guard let info = FileSystem.status(resolved), info.st_mode & S_IFMT == S_IFREG else {
            throw .refused("'\(path)' is not a regular file")
        }
        let roots = exportRoots()
        guard roots.contains(where: { Self.isInside(resolved, root: $0) }) else {
            let shown = resolved == expanded ? "" : " (it resolves to \(resolved))"
            throw .refused(
                "'\(path)'\(shown) is outside the folders files may be exported from: "
                    + ([transfers] + extraExportRoots).joined(separator: ", "))
        }
        return resolved
    }

    /// The export roots that exist, resolved.
    func exportRoots() -> [String] {
        ([transfers] + extraExportRoots).compactMap { try? FileSystem.realPath($0) }
    }

    static func isInside(_ path: String, root: String) -> Bool {
        root == "/" || path == root || path.hasPrefix(root + "/")
    }
}
