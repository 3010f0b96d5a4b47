/// One "Meter Session Status Change" callout, validated.
public struct StatusEvent: Sendable, Equatable {
    public var key: MeterKey
    public var meterName: String?
    public var sessionId: String
    public var runType: String
    public var status: RunStatus
    public var previousStatus: RunStatus?
    /// Seconds from session start to end, when the session ended.
    public var sessionDuration: Double?

    public init(
        key: MeterKey,
        meterName: String?,
        sessionId: String,
        runType: String,
        status: RunStatus,
        previousStatus: RunStatus?,
        sessionDuration: Double?
    ) {
        self.key = key
        self.meterName = meterName
        self.sessionId = sessionId
        self.runType = runType
        self.status = status
        self.previousStatus = previousStatus
        self.sessionDuration = sessionDuration
    }
}

/// A status change applied within one session: the identity of a callout's transition.
struct SessionEdge: Hashable, Sendable {
    let sessionId: String
    let from: String
    let to: String
}

public struct EndedSession: Sendable, Equatable {
    public let runType: String
    public let status: String
    public let duration: Double
}

/// What became of a callout.
public enum EventOutcome: String, Sendable, Equatable {
    /// Applied (possibly changing nothing, when a poll had already seen the status).
    case accepted
    /// A retry or a late, reordered callout whose change was already counted.
    case stale
    /// For a meter that is not configured, beyond the limit on dynamic meters.
    case dropped
}
