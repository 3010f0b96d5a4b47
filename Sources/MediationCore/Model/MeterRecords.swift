/// What one meter-version's sessions produced: the last summarised session, the sum over all of them,
/// and the running session's periodic snapshot; plus what the tracker needs to ask for each ended
/// session's summary once. Values only; the tracker is the only writer.
public struct MeterRecords: Sendable, Equatable, Codable {
    /// The last summarised session, bounded by the limits in force when it was taken.
    public var lastSession: LastSessionRecords?
    /// Summed over every summarised session (`zuora_meter_records_total`).
    public var total = RecordCounts()
    /// Nil when no session runs, or none sent a periodic snapshot yet.
    public var running: RunningSnapshot?

    /// Wall-clock time the run going on was first seen active: the start of its summary's window.
    var runStartedAt: Double?
    /// The session of the run going on, when a callout named it.
    var currentSessionId: String?
    /// The last run end counted, and the session it was of once known: a callout naming the session of
    /// an end a poll counted adds it there, for the pending summary.
    var lastEnd: RunEnd?
    /// Sessions whose end was reported, newest last (bounded): never summarised twice, and late snapshots
    /// of them are ignored.
    var endedSessionIds: [String] = []

    static let endedSessionMemory = 32

    public init() {}

    struct RunEnd: Sendable, Equatable, Codable {
        var sessionId: String?
        var status: String
        /// When the end was observed (wall-clock seconds); absent in files of older versions.
        var at: Double?
    }

    mutating func rememberEnded(_ sessionId: String) {
        endedSessionIds.append(sessionId)
        if endedSessionIds.count > Self.endedSessionMemory { endedSessionIds.removeFirst() }
    }
}
