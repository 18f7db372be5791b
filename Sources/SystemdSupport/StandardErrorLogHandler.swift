import Logging

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log handler that writes one line per event to stderr (or another descriptor),
/// formatted for where the lines end up: the journal, a terminal, or a file or pipe
/// (``LogOutput``).
///
/// Each line goes out in a single write(2), with no lock and no buffer: the handler is a
/// value with nothing mutable to share, and lines written concurrently by many tasks do
/// not interleave inside one another (pipes guarantee it up to PIPE_BUF, journald's stream
/// socket and terminals in practice).
public struct StandardErrorLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public let formatter: LogLineFormatter
    public let fileDescriptor: Int32

    public init(
        output: LogOutput,
        fileDescriptor: Int32 = STDERR_FILENO,
        logLevel: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = nil
    ) {
        self.formatter = LogLineFormatter(output: output)
        self.fileDescriptor = fileDescriptor
        self.logLevel = logLevel
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let line = formatter.format(
            level: event.level, message: event.message.description, metadata: mergedMetadata(event),
            time: .now())
        Self.write(line + "\n", to: fileDescriptor)
    }

    /// The handler's metadata, then the provider's (task-local context such as a run id),
    /// then the call's own, later ones winning; an error attached to the call is recorded
    /// the way swift-log's stream handler records it (`error.message`, `error.type`).
    private func mergedMetadata(_ event: LogEvent) -> Logger.Metadata {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit = event.metadata { merged.merge(explicit) { $1 } }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        return merged
    }

    /// One write(2) for the whole line; short writes (a full pipe, a signal) continue where
    /// they stopped. Failures are dropped: a logger has nowhere to report its own errors.
    private static func write(_ line: String, to fd: Int32) {
        var line = line
        line.withUTF8 { buffer in
            var offset = 0
            while offset < buffer.count {
                let count = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { return }
                offset += count
            }
        }
    }

    /// Installs this handler for every logger of the process and returns the root logger.
    ///
    /// Call it once, first thing in an executable (swift-log allows one bootstrap per
    /// process). `output` defaults to ``LogOutput/detect(environment:stderrFD:)`` on stderr,
    /// so `run --foreground` in a terminal gets coloured lines and the same command under
    /// systemd gets `<N>` lines; `level` applies to every logger, libraries' included.
    @discardableResult
    public static func bootstrap(
        label: String,
        level: Logger.Level,
        output: LogOutput? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Logger {
        let output = output ?? LogOutput.detect(environment: environment)
        LoggingSystem.bootstrap { _ in
            StandardErrorLogHandler(output: output, logLevel: level, metadataProvider: LoggingSystem.metadataProvider)
        }
        return Logger(label: label)
    }
}
