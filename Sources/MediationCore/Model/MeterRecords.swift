/// What one meter-version's sessions produced: the last summarised session, the sum over all of them,
/// and the running session's periodic snapshot; plus what the tracker needs to ask for each ended
/// session's summary once. Values only; the tracker is the only writer.
///
/// Kept out of line, in an immutable box that exists only once something was recorded: every
/// meter-version carries one, those that never ran (nor got a snapshot) hold nothing, and inline the
/// fields cost a few hundred bytes a meter-version in each copy of the tracker's state (the benchmark at
/// 10,000 meter-versions: 91.3 MiB inline, 86.7 MiB out of line). Writes are rare (a run's start and
/// end, a snapshot, a summary): each replaces the box.
public struct MeterRecords: Sendable, Equatable, Codable {
    struct Fields: Sendable, Equatable, Codable {
        var lastSession: LastSessionRecords?
        var total = RecordCounts()
        var running: RunningSnapshot?
        var runStartedAt: Double?
        var currentSessionId: String?
        var lastEnd: RunEnd?
        var endedSessionIds: [String] = []
    }

    private final class Box: Sendable {
        let fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var box: Box?

    private var fields: Fields {
        get { box?.fields ?? Fields() }
        set { box = newValue == Fields() ? nil : Box(newValue) }
    }

    /// The last summarised session, bounded by the limits in force when it was taken.
    public var lastSession: LastSessionRecords? {
        get { fields.lastSession }
        set { fields.lastSession = newValue }
    }
    /// Summed over every summarised session (`zuora_meter_records_total`).
    public var total: RecordCounts {
        get { fields.total }
        set { fields.total = newValue }
    }
    /// Nil when no session runs, or none sent a periodic snapshot yet.
    public var running: RunningSnapshot? {
        get { fields.running }
        set { fields.running = newValue }
    }

    /// Wall-clock time the run going on was first seen active: the start of its summary's window.
    var runStartedAt: Double? {
        get { fields.runStartedAt }
        set { fields.runStartedAt = newValue }
    }
    /// The session of the run going on, when a callout named it.
    var currentSessionId: String? {
        get { fields.currentSessionId }
        set { fields.currentSessionId = newValue }
    }
    /// The last run end counted, and the session it was of once known: a callout naming the session of
    /// an end a poll counted adds it there, for the pending summary.
    var lastEnd: RunEnd? {
        get { fields.lastEnd }
        set { fields.lastEnd = newValue }
    }
    /// Sessions whose end was reported, newest last (bounded): never summarised twice, and late snapshots
    /// of them are ignored.
    var endedSessionIds: [String] {
        get { fields.endedSessionIds }
        set { fields.endedSessionIds = newValue }
    }

    static let endedSessionMemory = 32

    public init() {}

    /// The same document as the fields themselves (state files of earlier versions read unchanged).
    public init(from decoder: any Decoder) throws { fields = try Fields(from: decoder) }

    public func encode(to encoder: any Encoder) throws { try fields.encode(to: encoder) }

    public static func == (lhs: MeterRecords, rhs: MeterRecords) -> Bool {
        lhs.box === rhs.box || lhs.fields == rhs.fields
    }

    struct RunEnd: Sendable, Equatable, Codable {
        var sessionId: String?
        var status: String
        /// When the end was observed (wall-clock seconds); absent in files of older versions.
        var at: Double?
    }

    mutating func rememberEnded(_ sessionId: String) {
        var ended = endedSessionIds
        ended.append(sessionId)
        if ended.count > Self.endedSessionMemory { ended.removeFirst() }
        endedSessionIds = ended
    }
}
