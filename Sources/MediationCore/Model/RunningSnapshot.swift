/// The running session's latest periodic snapshot, per operator, within `max_operators`.
///
/// Operators beyond the limit are summed into "other". So that a later snapshot of one of them replaces
/// its earlier one in that sum (instead of adding to it), up to `overflowMemory` of them are remembered,
/// by a 64-bit hash of the id (8 bytes each, whatever the id's length); snapshots of operators beyond
/// that are not counted. Memory stays bounded however many operator ids a session reports.
public struct RunningSnapshot: Sendable, Equatable, Codable {
    public static let overflowMemory = 1000

    public let sessionId: String
    /// The session's start as its snapshots tell it, when they do.
    public var startedAt: Double?
    /// Wall-clock seconds of the latest snapshot.
    public var updatedAt: Double
    public private(set) var operators: [String: SnapshotCounts] = [:]
    /// The sum over the remembered operators beyond the limit; shown as "other" once there is one.
    public private(set) var other = SnapshotCounts()
    private var overflow: [UInt64: SnapshotCounts] = [:]

    public init(sessionId: String, updatedAt: Double) {
        self.sessionId = sessionId
        self.updatedAt = updatedAt
    }

    /// Whether the overflow memory holds no more than it may (a restored file could say otherwise).
    var isWithinMemory: Bool { overflow.count <= Self.overflowMemory && operators.count <= 1000 }

    /// Whether any operator was summed into "other".
    public var hasOther: Bool { !overflow.isEmpty }

    /// Takes one operator's latest counts.
    mutating func record(_ operatorId: String, _ counts: SnapshotCounts, limit: Int) {
        // An operator literally named "other" would render a second series beside the sum: it joins it.
        if operatorId != SessionSummary.otherLabel, operators[operatorId] != nil || operators.count < limit {
            operators[operatorId] = counts
            return
        }
        let hash = StableHash.of(operatorId)
        if let previous = overflow[hash] {
            other = other - previous + counts
        } else if overflow.count < Self.overflowMemory {
            other = other + counts
        } else {
            return
        }
        overflow[hash] = counts
    }

    /// After a reload lowered the limit: the operators with the fewest records move to "other".
    mutating func rebound(limit: Int) {
        guard operators.count > limit else { return }
        let ranked = operators.sorted { ($1.value.total, $0.key) < ($0.value.total, $1.key) }
        for (id, counts) in ranked.dropFirst(limit) {
            operators[id] = nil
            let hash = StableHash.of(id)
            if overflow[hash] == nil, overflow.count < Self.overflowMemory {
                overflow[hash] = counts
                other = other + counts
            }
        }
    }
}
