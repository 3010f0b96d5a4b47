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
    public var pollErrors: [PollErrorReason: UInt64] = [:]
    /// A one-line description of the last failed poll, for the landing page; cleared by a success.
    public var lastError: String?
    /// Duration of the last ended session by run type (`NORMAL`, `DEBUG`), from callouts.
    public var lastSessionDuration: [String: Double] = [:]
    /// Status changes recently applied from callouts (or inferred from them), by session, so that a
    /// retried or reordered callout is recognised and not counted twice. Bounded.
    var recentEdges: [SessionEdge] = []

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

    /// The `name` label of `zuora_meter_info`: the configuration's for configured meters (a callout
    /// never renames one), the last callout's for meters known only from callouts.
    public var displayName: String { (isConfigured ? configuredName : reportedName) ?? "" }
}

/// One meter-version as the configuration lists it.
public struct MeterSpec: Hashable, Sendable {
    public let key: MeterKey
    public let name: String?

    public init(key: MeterKey, name: String?) {
        self.key = key
        self.name = name
    }
}

/// What one poll of `runStatus` found.
public struct PollOutcome: Sendable, Equatable {
    public enum Result: Sendable, Equatable {
        case status(RunStatus)
        case failure(PollErrorReason, message: String)
    }

    public let key: MeterKey
    public let result: Result
    /// When the answer arrived (seconds since the epoch).
    public let at: Double

    public init(key: MeterKey, result: Result, at: Double) {
        self.key = key
        self.result = result
        self.at = at
    }
}

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

    public init() {}

    public var isEmpty: Bool { updated.isEmpty && removed.isEmpty }

    public static func == (lhs: TrackerChanges, rhs: TrackerChanges) -> Bool {
        lhs.updated == rhs.updated && lhs.removed == rhs.removed
            && lhs.transitions.map(\.key) == rhs.transitions.map(\.key)
            && lhs.transitions.map(\.transition) == rhs.transitions.map(\.transition)
            && lhs.pollHealth.map(\.key) == rhs.pollHealth.map(\.key)
            && lhs.pollHealth.map(\.succeeded) == rhs.pollHealth.map(\.succeeded)
            && lhs.endedSessions == rhs.endedSessions
    }

    mutating func merge(_ other: TrackerChanges) {
        updated.formUnion(other.updated)
        removed.formUnion(other.removed)
        transitions += other.transitions
        pollHealth += other.pollHealth
        endedSessions += other.endedSessions
    }
}

/// The one owner of every meter-version's status. A pure state machine: polls and callouts go in,
/// `TrackerChanges` come out; no clock, no I/O, no locks (its owner serialises access).
public struct StatusTracker: Sendable {
    public internal(set) var meters: [MeterKey: MeterState] = [:]

    public init() {}

    public var configuredKeys: [MeterKey] { meters.filter { $0.value.isConfigured }.keys.sorted() }

    /// Makes the configured set exactly `specs`: new meters start unobserved, removed ones disappear
    /// from /metrics, renamed ones are rendered again. The state of meters that stay is kept.
    public mutating func configure(_ specs: [MeterSpec]) -> TrackerChanges {
        var changes = TrackerChanges()
        let wanted = Dictionary(specs.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        for (key, state) in meters where state.isConfigured && wanted[key] == nil {
            meters[key] = nil
            changes.removed.insert(key)
        }
        for (key, spec) in wanted {
            var state = meters[key] ?? MeterState(configuredName: spec.name, isConfigured: true)
            let before = state
            state.configuredName = spec.name
            state.isConfigured = true
            if meters[key] == nil || state != before {
                changes.updated.insert(key)
            }
            meters[key] = state
        }
        return changes
    }

    /// Removes meters known only from callouts that no callout mentioned since `cutoff` (monotonic
    /// seconds), so that the dynamic-meter limit frees up and their series go.
    public mutating func expireDynamicMeters(notHeardSince cutoff: Double) -> TrackerChanges {
        var changes = TrackerChanges()
        for (key, state) in meters where !state.isConfigured && (state.lastCalloutAt ?? -.infinity) < cutoff {
            meters[key] = nil
            changes.removed.insert(key)
        }
        return changes
    }

    /// Applies one poll result. Polls of meters that are no longer configured are ignored.
    public mutating func record(_ poll: PollOutcome) -> TrackerChanges {
        guard var state = meters[poll.key] else { return TrackerChanges() }
        var changes = TrackerChanges()
        changes.updated.insert(poll.key)
        state.lastPollAt = poll.at
        let succeeded: Bool
        if case .status = poll.result { succeeded = true } else { succeeded = false }
        if state.lastPollSucceeded != succeeded, state.lastPollSucceeded != nil || !succeeded {
            changes.pollHealth.append((poll.key, succeeded))
        }
        switch poll.result {
        case .status(let status):
            state.lastPollSucceeded = true
            state.lastPollSuccessAt = poll.at
            state.lastError = nil
            if let previous = state.status {
                if previous != status {
                    Self.count(from: previous, to: status, key: poll.key, at: poll.at, in: &state, changes: &changes)
                }
            } else {
                // The first observation sets the status; what came before it was not seen.
                state.status = status
                state.statusSince = poll.at
            }
        case .failure(let reason, let message):
            state.lastPollSucceeded = false
            state.pollErrors[reason, default: 0] += 1
            // Capped: it is shown on the landing page for every failing meter.
            state.lastError = Excerpt.of("\(reason.rawValue): \(message)", limit: 300)
        }
        meters[poll.key] = state
        return changes
    }

    /// Counts one status change and moves the meter to `status`.
    static func count(
        from previous: RunStatus,
        to status: RunStatus,
        key: MeterKey,
        at time: Double,
        in state: inout MeterState,
        changes: inout TrackerChanges
    ) {
        let transition = Transition(from: previous.name, to: status.name)
        state.transitions[transition, default: 0] += 1
        if status.isFailure { state.failures += 1 }
        state.status = status
        state.statusSince = time
        changes.transitions.append((key, transition))
    }
}
