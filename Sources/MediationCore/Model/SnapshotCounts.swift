/// One operator's counts in a periodic snapshot.
public struct SnapshotCounts: Sendable, Equatable, Hashable, Codable {
    public var output: UInt64
    public var error: UInt64
    public var total: UInt64

    public init(output: UInt64 = 0, error: UInt64 = 0, total: UInt64 = 0) {
        self.output = output
        self.error = error
        self.total = total
    }

    static func + (lhs: SnapshotCounts, rhs: SnapshotCounts) -> SnapshotCounts {
        SnapshotCounts(
            output: lhs.output.saturatingAdd(rhs.output),
            error: lhs.error.saturatingAdd(rhs.error),
            total: lhs.total.saturatingAdd(rhs.total)
        )
    }

    static func - (lhs: SnapshotCounts, rhs: SnapshotCounts) -> SnapshotCounts {
        SnapshotCounts(
            output: lhs.output.saturatingSubtract(rhs.output),
            error: lhs.error.saturatingSubtract(rhs.error),
            total: lhs.total.saturatingSubtract(rhs.total)
        )
    }
}
