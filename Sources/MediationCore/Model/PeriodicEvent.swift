/// One "Meter Session Periodic Status Update" callout, validated: one operator's counts so far in a
/// running session.
public struct PeriodicEvent: Sendable, Equatable {
    public var key: MeterKey
    public var meterName: String?
    /// "unknown" when the callout names none.
    public var operatorId: String
    public var sessionId: String
    public var runType: String
    public var counts: SnapshotCounts
    /// The session's start and end (seconds since the epoch), when the callout carried them readably: a
    /// snapshot with an end, or of a session older than the meter's current rest, is of a finished session.
    public var startedAt: Double?
    public var endedAt: Double?

    public init(
        key: MeterKey,
        meterName: String?,
        operatorId: String,
        sessionId: String,
        runType: String,
        counts: SnapshotCounts,
        startedAt: Double? = nil,
        endedAt: Double? = nil
    ) {
        self.key = key
        self.meterName = meterName
        self.operatorId = operatorId
        self.sessionId = sessionId
        self.runType = runType
        self.counts = counts
        self.startedAt = startedAt
        self.endedAt = endedAt
    }
}
