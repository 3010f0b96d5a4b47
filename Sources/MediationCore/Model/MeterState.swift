/// A status change the tracker counted: one increment of `zuora_meter_run_status_transitions_total`.
public struct Transition: Hashable, Sendable {
    public let from: String
    public let to: String

    public init(from: String, to: String) {
        self.from = from
        self.to = to
    }
}

/// Everything known about one meter-version. Values only; the tracker is the only writer.
public struct MeterState: Sendable, Equatable {
    /// The name from the configuration; wins over a name a callout carries.
    public var configuredName: String?
    /// The name the last callout carried (`meterName`), used when the configuration has none.
    public var reportedName: String?
    /// False for meters known only from callouts.
    public var isConfigured: Bool
    public var status: RunStatus?
    /// When the current status was first observed (seconds since the epoch).
    public var statusSince: Double?
    public var transitions: [Transition: UInt64] = [:]
    public var failures: UInt64 = 0
    /// Nil until the first poll finished.
    public var lastPollSucceeded: Bool?
    public var lastPollAt: Double?
    public var lastPollSuccessAt: Double?
    /// When a status callout was last applied (monotonic seconds): a poll sent before it answers with what
    /// Zuora said before that callout, and does not move the status back.
    public var statusCalloutAt: Double?
    public var pollErrors: [PollErrorReason: UInt64] = [:]
    /// A one-line description of the last failed poll, for the landing page; cleared by a success.
    public var lastError: String?
    /// Duration of the last ended session by run type (`NORMAL`, `DEBUG`), from callouts.
    public var lastSessionDuration: [String: Double] = [:]
    /// Status changes recently applied from callouts (or inferred from them), by session, so that a
    /// retried or reordered callout is recognised and not counted twice. Bounded.
    var recentEdges: [SessionEdge] = []
    /// Record counts from summaries and periodic snapshots, and what asking for summaries needs.
    public var records = MeterRecords()

    public init(configuredName: String?, isConfigured: Bool) {
        self.configuredName = configuredName
        self.isConfigured = isConfigured
    }

    /// True when `other` differs from this state in the outcome and times of the last poll at most: what
    /// a steady poll changes.
    func differsOnlyInPollHealth(from other: MeterState) -> Bool {
        var aligned = self
        aligned.lastPollAt = other.lastPollAt
        aligned.lastPollSucceeded = other.lastPollSucceeded
        aligned.lastPollSuccessAt = other.lastPollSuccessAt
        return aligned == other
    }

    /// When the last callout about this meter-version was accepted (monotonic seconds): dynamic meters
    /// expire when callouts stop.
    public var lastCalloutAt: Double?
    /// Summaries are on (`summary.enabled`): `zuora_meter_records_total` is shown from 0 before the first
    /// summary, so that `increase()` over it counts the first summarised session too.
    public var countsRecords = false

    /// The `name` label of `zuora_meter_info`: the configuration's for configured meters (a callout
    /// never renames one), the last callout's for meters known only from callouts.
    public var displayName: String { (isConfigured ? configuredName : reportedName) ?? "" }
}
