/// Output and error record counts: one operator's, one session's, or a sum of sessions'.
public struct RecordCounts: Sendable, Equatable, Hashable, Codable {
    public var output: UInt64
    public var error: UInt64

    public init(output: UInt64 = 0, error: UInt64 = 0) {
        self.output = output
        self.error = error
    }

    /// Saturating: counts come from outside, and a wrapped counter would show a reset that never happened.
    public static func + (lhs: RecordCounts, rhs: RecordCounts) -> RecordCounts {
        RecordCounts(output: lhs.output.saturatingAdd(rhs.output), error: lhs.error.saturatingAdd(rhs.error))
    }
}
