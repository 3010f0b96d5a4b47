/// The one owner of every meter-version's status. A pure state machine: polls and callouts go in,
/// `TrackerChanges` come out; no clock, no I/O, no locks (its owner serialises access).
public struct StatusTracker: Sendable {
    public internal(set) var meters: [MeterKey: MeterState] = [:]
    /// Ended runs waiting for their summary (when `recordSettings.enabled`).
    public internal(set) var summaries = SummaryQueue()
    /// The `summary:` section in force: whether ended runs are queued, and the bounds on record labels.
    public internal(set) var recordSettings = SummaryConfig()

    public init() {}

    public var configuredKeys: [MeterKey] { meters.filter { $0.value.isConfigured }.keys.sorted() }

    /// Makes the configured set exactly `specs`: new meters start unobserved, removed ones disappear
    /// from /metrics, renamed ones are rendered again. The state of meters that stay is kept.
    public mutating func configure(_ specs: [MeterSpec]) -> TrackerChanges {
        var changes = TrackerChanges()
        let wanted = Dictionary(specs.map { ($0.key, $0) }, uniquingKeysWith: { first, _ in first })
        for (key, state) in meters where state.isConfigured && wanted[key] == nil {
            meters[key] = nil
            summaries.remove(key)
            changes.removed.insert(key)
        }
        for (key, spec) in wanted {
            var state = meters[key] ?? newMeter(configuredName: spec.name, isConfigured: true)
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

    /// A meter-version not known before, under the `summary:` section in force.
    func newMeter(configuredName: String?, isConfigured: Bool) -> MeterState {
        var state = MeterState(configuredName: configuredName, isConfigured: isConfigured)
        state.countsRecords = recordSettings.enabled
        return state
    }

    /// Removes meters known only from callouts that no callout mentioned since `cutoff` (monotonic
    /// seconds), so that the dynamic-meter limit frees up and their series go.
    public mutating func expireDynamicMeters(notHeardSince cutoff: Double) -> TrackerChanges {
        var changes = TrackerChanges()
        for (key, state) in meters where !state.isConfigured && (state.lastCalloutAt ?? -.infinity) < cutoff {
            meters[key] = nil
            summaries.remove(key)
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
        // The last time the status before this poll was seen: where a run that started and ended between
        // two polls began at the earliest.
        let seenBefore = state.lastPollSuccessAt
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
            if let sentAt = poll.sentAt, let calloutAt = state.statusCalloutAt, sentAt < calloutAt {
                // Superseded: sent before a callout that was applied while it was on its way (a run that
                // ended meanwhile would be counted as failing again, its summary asked for twice). The
                // next poll, sent after the callout, is compared as usual.
            } else if let previous = state.status {
                if previous != status {
                    Self.count(
                        from: previous,
                        to: status,
                        key: poll.key,
                        at: poll.at,
                        in: &state,
                        changes: &changes,
                        seenBefore: seenBefore
                    )
                }
            } else {
                // The first observation sets the status; what came before it was not seen.
                state.status = status
                state.statusSince = poll.at
                if !status.isAtRest { state.records.runStartedAt = poll.at }
            }
        case .failure(let reason, let message):
            state.lastPollSucceeded = false
            state.pollErrors[reason, default: 0] += 1
            // Capped: it is shown on the landing page for every failing meter.
            state.lastError = Excerpt.of("\(reason.rawValue): \(message)", limit: 300)
        }
        meters[poll.key] = state
        queueSummaries(changes)
        return changes
    }

    /// Counts one status change and moves the meter to `status`.
    static func count(
        from previous: RunStatus,
        to status: RunStatus,
        key: MeterKey,
        at time: Double,
        in state: inout MeterState,
        changes: inout TrackerChanges,
        session: String? = nil,
        seenBefore: Double? = nil
    ) {
        followRun(
            from: previous,
            to: status,
            key: key,
            at: time,
            in: &state,
            changes: &changes,
            session: session,
            seenBefore: seenBefore
        )
        let transition = Transition(from: previous.name, to: status.name)
        state.transitions[transition, default: 0] += 1
        if status.isFailure { state.failures += 1 }
        state.status = status
        state.statusSince = time
        changes.transitions.append((key, transition))
    }
}
