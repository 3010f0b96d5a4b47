/// What changed, for the side that renders metrics and writes logs. The tracker does neither.
public struct TrackerChanges: Sendable, Equatable {
    /// Meter-versions whose state changed and must be rendered again.
    public var updated: Set<MeterKey> = []
    /// Meter-versions that are gone and must disappear from /metrics.
    public var removed: Set<MeterKey> = []
    /// Status changes counted, in order, for the log.
    public var transitions: [(key: MeterKey, transition: Transition)] = []
    /// Meter-versions whose polls started failing or recovered, for the log.
    public var pollHealth: [(key: MeterKey, succeeded: Bool)] = []
    /// Sessions a callout reported as ended, for the fleet-wide duration histogram.
    public var endedSessions: [EndedSession] = []
    /// Meter-versions observed entering an ended state, by poll or callout: each asks for its summary.
    public var endedRuns: [EndedRun] = []
    /// A callout named the session of an end a poll had counted: the pending summary asks for it by id.
    /// `endedAt`: the end's observation time (its `EndedRun.windowEnd`), so that the id goes to that run.
    public var sessionsIdentified: [(key: MeterKey, sessionId: String, endedAt: Double?)] = []

    public init() {}

    public var isEmpty: Bool { updated.isEmpty && removed.isEmpty }

    public static func == (lhs: TrackerChanges, rhs: TrackerChanges) -> Bool {
        lhs.updated == rhs.updated && lhs.removed == rhs.removed
            && lhs.transitions.map(\.key) == rhs.transitions.map(\.key)
            && lhs.transitions.map(\.transition) == rhs.transitions.map(\.transition)
            && lhs.pollHealth.map(\.key) == rhs.pollHealth.map(\.key)
            && lhs.pollHealth.map(\.succeeded) == rhs.pollHealth.map(\.succeeded)
            && lhs.endedSessions == rhs.endedSessions && lhs.endedRuns == rhs.endedRuns
            && lhs.sessionsIdentified.map(\.key) == rhs.sessionsIdentified.map(\.key)
            && lhs.sessionsIdentified.map(\.sessionId) == rhs.sessionsIdentified.map(\.sessionId)
    }

    mutating func merge(_ other: TrackerChanges) {
        updated.formUnion(other.updated)
        removed.formUnion(other.removed)
        transitions += other.transitions
        pollHealth += other.pollHealth
        endedSessions += other.endedSessions
        endedRuns += other.endedRuns
        sessionsIdentified += other.sessionsIdentified
    }
}
