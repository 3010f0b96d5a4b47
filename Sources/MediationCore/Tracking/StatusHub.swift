import Logging
import Synchronization

/// Serialises access to the one `StatusTracker` and carries its changes to the `MetricStore`.
/// Polls and callouts report here; the landing page and the scheduler read snapshots from here.
public final class StatusHub: Sendable {
    private let tracker = Mutex(StatusTracker())
    /// The configured set, sorted once per configuration (not per read), with a generation that changes
    /// when the set does: the poller re-syncs its schedule only then.
    private let configured = Mutex<(generation: Int, keys: [MeterKey])>((0, []))
    public let store: MetricStore
    let clock: any MonotonicClock
    let wallClock: any WallClock
    /// Signalled when a run ended or a pending summary learned its session: wakes the summary scheduler.
    public let summaryWakeup = Wakeup()
    /// Counts applied changes, so that `--storage.path` writes only when something changed.
    private let changeCount = Atomic<Int>(0)

    public init(
        store: MetricStore = MetricStore(),
        clock: any MonotonicClock = SystemMonotonicClock(),
        wallClock: any WallClock = SystemWallClock()
    ) {
        self.store = store
        self.clock = clock
        self.wallClock = wallClock
    }

    /// Applies a change to the tracker and re-renders what it changed. Rendering stays under the lock
    /// (a few microseconds a meter) so that the store can never receive two renderings out of order.
    @discardableResult
    public func apply(_ change: (inout StatusTracker) -> TrackerChanges) -> TrackerChanges {
        apply(about: nil, change)
    }

    /// `apply` for a change that concerns `key` alone: when it changed only that meter's poll health (a
    /// steady poll), only the families that show poll health are re-rendered.
    private func apply(about key: MeterKey?, _ change: (inout StatusTracker) -> TrackerChanges) -> TrackerChanges {
        tracker.withLock { tracker in
            let before = key.flatMap { tracker.meters[$0] }
            let changes = change(&tracker)
            if !changes.updated.isEmpty || !changes.removed.isEmpty {
                changeCount.add(1, ordering: .relaxed)
            }
            if !changes.endedRuns.isEmpty || !changes.sessionsIdentified.isEmpty { summaryWakeup.signal() }
            for key in changes.removed { store.remove(key) }
            for updated in changes.updated {
                guard let meter = tracker.meters[updated] else { continue }
                if updated == key, let before, before.differsOnlyInPollHealth(from: meter),
                    store.updatePollHealth(updated, meter)
                {
                    continue
                }
                store.update(updated, store.render(updated, meter))
            }
            return changes
        }
    }

    @discardableResult
    public func configure(_ specs: [MeterSpec]) -> TrackerChanges {
        var keys: [MeterKey] = []
        let changes = apply { tracker in
            let changes = tracker.configure(specs)
            keys = tracker.configuredKeys
            return changes
        }
        configured.withLock { current in
            if current.keys != keys { current = (current.generation + 1, keys) }
        }
        return changes
    }

    @discardableResult
    public func record(_ poll: PollOutcome) -> TrackerChanges { recordPoll(poll).changes }

    /// Applies a poll and tells the poller, under the same lock, whether the meter is now at rest (its
    /// status changes only when a run starts): what decides its next interval.
    public func recordPoll(_ poll: PollOutcome) -> (changes: TrackerChanges, atRest: Bool) {
        var atRest = false
        let changes = apply(about: poll.key) { tracker in
            let changes = tracker.record(poll)
            atRest = tracker.meters[poll.key]?.status?.isAtRest == true
            return changes
        }
        return (changes, atRest)
    }

    /// The configured meter-versions in key order, when their set changed since `generation`.
    public func configuredKeys(changedSince generation: Int) -> (generation: Int, keys: [MeterKey])? {
        configured.withLock { $0.generation == generation ? nil : $0 }
    }

    /// Applies a callout; returns what became of it and what it changed.
    public func record(_ event: StatusEvent, maxDynamicMeters: Int) -> (TrackerChanges, EventOutcome) {
        recordCallout { tracker, at, heardAt in
            tracker.record(event, at: at, heardAt: heardAt, maxDynamicMeters: maxDynamicMeters)
        }
    }

    /// Applies a callout of either kind at the wall-clock time shown and the monotonic time it was heard
    /// (dynamic meters expire when callouts stop).
    func recordCallout(
        _ record: (inout StatusTracker, _ at: Double, _ heardAt: Double) -> (TrackerChanges, EventOutcome)
    ) -> (TrackerChanges, EventOutcome) {
        var outcome = EventOutcome.accepted
        let (at, heardAt) = (wallClock.now(), clock.now())
        let changes = apply { tracker in
            let (changes, result) = record(&tracker, at, heardAt)
            outcome = result
            return changes
        }
        return (changes, outcome)
    }

    /// Drops dynamic meters that no callout mentioned for `ttl` seconds.
    @discardableResult
    public func expireDynamicMeters(ttl: Double) -> TrackerChanges {
        let cutoff = clock.now() - ttl
        return apply { $0.expireDynamicMeters(notHeardSince: cutoff) }
    }

    /// The meter-versions the configuration lists, in key order.
    public func configuredKeys() -> [MeterKey] { tracker.withLock { $0.configuredKeys } }

    /// How many configured meter-versions are at rest (known status that changes only when a run starts).
    public func countAtRest() -> Int {
        tracker.withLock { tracker in tracker.meters.values.count { $0.isConfigured && $0.status?.isAtRest == true } }
    }

    /// A copy of every meter-version's state.
    public func snapshot() -> [MeterKey: MeterState] { tracker.withLock { $0.meters } }

    /// Grows with every change applied; unchanged means nothing new to save.
    public var revision: Int { changeCount.load(ordering: .relaxed) }

    /// Every meter-version's state for `--storage.path`, with the wall-clock time it was taken.
    public func persistentSnapshot() -> (savedAt: Double, meters: [TrackerSnapshot.Meter]) {
        let now = clock.now()
        return (wallClock.now(), tracker.withLock { $0.snapshot(monotonicNow: now) })
    }

    /// Brings back saved state (after `configure`) and renders what it restored.
    @discardableResult
    public func restore(
        _ saved: [TrackerSnapshot.Meter],
        maxDynamicMeters: Int,
        keepDynamic: (MeterKey) -> Bool
    ) -> StatusTracker.RestoreSummary {
        let now = clock.now()
        var summary = StatusTracker.RestoreSummary()
        apply { tracker in
            summary = tracker.restore(
                saved,
                monotonicNow: now,
                maxDynamicMeters: maxDynamicMeters,
                keepDynamic: keepDynamic
            )
            return summary.changes
        }
        return summary
    }

    public func state(of key: MeterKey) -> MeterState? { tracker.withLock { $0.meters[key] } }

    /// The `summary:` section in force.
    public var recordSettings: SummaryConfig { tracker.withLock { $0.recordSettings } }
}

extension TrackerChanges {
    /// One `info` line per counted status change, whichever source saw it.
    func logTransitions(to logger: Logger, source: String) {
        for (key, transition) in transitions {
            logger.info(
                "meter run status changed",
                metadata: [
                    "meter_id": "\(key.meterId)", "version": "\(key.version)", "from": "\(transition.from)",
                    "to": "\(transition.to)", "source": "\(source)",
                ]
            )
        }
    }
}
