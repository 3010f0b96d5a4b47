/// What the exporter keeps across restarts (`--storage.path`): every meter-version's state and the
/// callout de-duplication window. Plain values in a stable JSON shape, versioned; the tracker converts
/// to and from it (`StatusTracker.snapshot`, `StatusTracker.restore`), `StateStore` writes and reads it.
///
/// Times are wall-clock seconds since the epoch, as shown on /metrics, except `lastCalloutSecondsAgo`:
/// the monotonic clock restarts with the process, so a dynamic meter's last callout is kept as an age.
/// No secrets: neither credentials nor callout bodies are part of it, only notification ids.
public struct TrackerSnapshot: Codable, Sendable, Equatable {
    /// The format written; a file with another version is ignored (the exporter starts fresh).
    public static let currentVersion = 1

    public var version: Int
    /// When the snapshot was taken (wall clock).
    public var savedAt: Double
    public var meters: [Meter]
    /// Recent `Zuora-Notification-Id`s, oldest first.
    public var notificationIds: [String]

    public init(savedAt: Double, meters: [Meter], notificationIds: [String]) {
        self.version = Self.currentVersion
        self.savedAt = savedAt
        self.meters = meters
        self.notificationIds = notificationIds
    }

    /// One meter-version's state.
    public struct Meter: Codable, Sendable, Equatable {
        public var meterId: Int64
        public var version: String
        public var configuredName: String?
        public var reportedName: String?
        public var isConfigured: Bool
        /// The run-status code; nil before the first observation.
        public var status: Int?
        public var statusSince: Double?
        public var transitions: [TransitionCount]
        public var failures: UInt64
        public var lastPollSucceeded: Bool?
        public var lastPollAt: Double?
        public var lastPollSuccessAt: Double?
        /// By `PollErrorReason` raw value; unknown reasons are ignored on restore.
        public var pollErrors: [String: UInt64]
        public var lastError: String?
        public var lastSessionDuration: [String: Double]
        public var recentEdges: [Edge]
        /// How long before `savedAt` the last callout about this meter-version was accepted.
        public var lastCalloutSecondsAgo: Double?
        /// Record counts and what asking for summaries needs; absent in files of earlier exporters.
        public var records: MeterRecords?
    }

    public struct TransitionCount: Codable, Sendable, Equatable {
        public var from: String
        public var to: String
        public var count: UInt64
    }

    /// A status change recently applied from a callout, by session (see `MeterState.recentEdges`).
    public struct Edge: Codable, Sendable, Equatable {
        public var sessionId: String
        public var from: String
        public var to: String
    }
}

extension TrackerSnapshot {
    /// A time read back from a file: kept when finite and not negative, else nil.
    static func restoredTime(_ value: Double?) -> Double? { value.flatMap { $0.isFinite && $0 >= 0 ? $0 : nil } }
}
