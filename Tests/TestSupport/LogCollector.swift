import Logging
import Synchronization

/// Keeps every line logged through its loggers, so a test can search what the code wrote
/// (a secret must never be there). Used instead of `LoggingSystem.bootstrap`, which may run
/// once per process.
public final class LogCollector: Sendable {
    private let lines = Mutex<[String]>([])

    public init() {}

    public var all: [String] { lines.withLock { $0 } }

    public func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    /// A logger at `trace`, so the search covers everything the code could log.
    public func logger(label: String = "tests") -> Logger {
        var logger = Logger(label: label) { label in CollectingLogHandler(label: label, collector: self) }
        logger.logLevel = .trace
        return logger
    }
}

/// One line per event: level, label, message, metadata and error, as a log sink would see them.
public struct CollectingLogHandler: LogHandler {
    public let label: String
    public let collector: LogCollector
    public var logLevel: Logger.Level = .trace
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let fields = all.keys.sorted().map { "\($0)=\(all[$0]!)" }.joined(separator: " ")
        let error = event.error.map { " error=\($0)" } ?? ""
        collector.append("\(event.level) [\(label)] \(event.message) \(fields)\(error)")
    }
}

extension Logger {
    /// A logger that drops everything, for parts of a test whose logs do not matter.
    public static var silent: Logger { Logger(label: "silent") { _ in SwiftLogNoOpLogHandler() } }
}
