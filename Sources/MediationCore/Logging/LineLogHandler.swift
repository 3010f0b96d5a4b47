public import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Log lines in the formats Prometheus components use: logfmt (`ts=… level=… msg="…" key=value`) or
/// one JSON object a line. Written to standard error.
public struct LineLogHandler: LogHandler {
    public enum Format: String, Sendable, CaseIterable {
        case logfmt
        case json
    }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    private let format: Format
    private let label: String

    public init(label: String, format: Format, level: Logger.Level) {
        self.label = label
        self.format = format
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = self.metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let line = Self.line(
            format: format,
            time: LandingPage.isoTimestamp(SystemWallClock().now()),
            level: event.level,
            message: "\(event.message)",
            metadata: merged
        )
        // One write(2) a line, so lines from several threads never interleave.
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// One formatted line; metadata keys sorted so lines are stable.
    public static func line(
        format: Format,
        time: String,
        level: Logger.Level,
        message: String,
        metadata: Logger.Metadata
    )
        -> String
    {
        let fields =
            [("ts", time), ("level", level.rawValue == "warning" ? "warn" : level.rawValue), ("msg", message)]
            + metadata.sorted { $0.key < $1.key }.map { ($0.key, "\($0.value)") }
        switch format {
        case .json:
            return "{" + fields.map { "\(TextEscaping.json($0.0)):\(TextEscaping.json($0.1))" }.joined(separator: ",")
                + "}"
        case .logfmt:
            return fields.map { "\($0.0)=\(logfmtValue($0.1))" }.joined(separator: " ")
        }
    }

    static func logfmtValue(_ value: String) -> String {
        let needsQuotes =
            value.isEmpty
            || value.contains { $0 == " " || $0 == "=" || $0 == "\"" || $0.asciiValue.map { $0 < 0x20 } ?? false }
        guard needsQuotes else { return value }
        return TextEscaping.json(value)
    }
}
