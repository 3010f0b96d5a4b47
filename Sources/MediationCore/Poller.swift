public import Logging
import Synchronization

/// How the poller paces itself; replaced as a whole on reload.
public struct PollSettings: Sendable, Equatable {
    public var plan: PollPlan
    public var maxConcurrency: Int
    /// Rest interval while callouts arrive (the push path covers changes); nil without a receiver.
    public var webhookRestInterval: Double?
    /// Longest wait between polls of a failing meter-version.
    public var backoffCap: Double = 600

    public init(plan: PollPlan, maxConcurrency: Int, webhookRestInterval: Double? = nil) {
        self.plan = plan
        self.maxConcurrency = maxConcurrency
        self.webhookRestInterval = webhookRestInterval
    }

    /// Fixed intervals with no budget: what tests and simple set-ups use.
    public init(interval: Double, maxConcurrency: Int) {
        self.init(
            plan: PollPlan(activeInterval: interval, restInterval: interval, budget: BudgetLimits()),
            maxConcurrency: maxConcurrency
        )
    }
}

/// Polls configured meter-versions on their own schedules (`PollSchedule`): active ones every
/// `activeInterval`, those at rest every `restInterval`, both stretched when the request budget needs it,
/// at most `maxConcurrency` at once. Results go to the hub; nothing else is written.
public final class Poller: Sendable {
    private let hub: StatusHub
    private let fetcher: any RunStatusFetching
    private let metrics: ExporterMetrics
    private let logger: Logger
    private let settings: Mutex<PollSettings>
    private let schedule = Mutex(PollSchedule())
    private let stretch = Mutex(1.0)
    private let cyclesDone = Atomic<Int>(0)
    /// Wakes the dispatch loop when a poll finished (its meter has a new due time) or one was expedited.
    private let wakeup = Wakeup()
    /// Whether callouts arrived recently: then meters at rest can be polled less often.
    private let calloutsHealthy: @Sendable () -> Bool

    public init(
        hub: StatusHub,
        fetcher: any RunStatusFetching,
        settings: PollSettings,
        metrics: ExporterMetrics,
        logger: Logger,
        calloutsHealthy: @escaping @Sendable () -> Bool = { false }
    ) {
        self.hub = hub
        self.fetcher = fetcher
        self.settings = Mutex(settings)
        self.metrics = metrics
        self.logger = logger
        self.calloutsHealthy = calloutsHealthy
    }

    /// True once every configured meter-version has been polled once: what /-/ready reports.
    public var isReady: Bool { cyclesDone.load(ordering: .relaxed) > 0 }

    public func update(_ new: PollSettings) { settings.withLock { $0 = new } }

    /// Polls a meter soon, e.g. after a callout reported that it started running.
    public func expedite(_ key: MeterKey) {
        schedule.withLock { $0.expedite(key, to: Clock.now()) }
        wakeup.signal()
    }

    /// Runs until the task is cancelled.
    public func run() async {
        var nextSync = 0.0
        await withTaskGroup(of: Void.self) { group in
            // Polls started and not yet collected: an upper bound of those in flight.
            var running = 0
            while !Task.isCancelled {
                let now = Clock.now()
                let settings = self.settings.withLock { $0 }
                if now >= nextSync {
                    sync(settings: settings, now: now)
                    nextSync = now + 1
                }
                if running >= settings.maxConcurrency {
                    await group.next()
                    running -= 1
                    continue
                }
                guard let key = schedule.withLock({ $0.takeDue(now: now) }) else {
                    let due = schedule.withLock { $0.nextDue() } ?? (now + 1)
                    await wakeup.wait(upTo: min(max(due - now, 0), nextSync - now, 1))
                    continue
                }
                running += 1
                group.addTask { await self.poll(key) }
            }
            group.cancelAll()
        }
    }

    /// Adds and removes meters as the configuration changed, and recomputes the budget stretch.
    private func sync(settings: PollSettings, now: Double) {
        let keys = hub.configuredKeys()
        schedule.withLock { $0.sync(keys, now: now, spread: settings.plan.activeInterval) }
        // Nothing to poll (callouts only, or a shard that owns no meter): there is no cycle to wait for.
        if keys.isEmpty, cyclesDone.load(ordering: .relaxed) == 0 { cyclesDone.add(1, ordering: .relaxed) }
        let resting = hub.countAtRest()
        let factor = settings.plan.stretch(active: keys.count - resting, resting: resting)
        stretch.withLock { $0 = factor }
        metrics.setEffectiveIntervals(
            active: settings.plan.activeInterval * factor,
            rest: restInterval(settings) * factor
        )
    }

    private func restInterval(_ settings: PollSettings) -> Double {
        if let webhookRest = settings.webhookRestInterval, calloutsHealthy() {
            return max(webhookRest, settings.plan.restInterval)
        }
        return settings.plan.restInterval
    }

    /// Polls one meter-version, reports the outcome and schedules its next poll.
    public func poll(_ key: MeterKey) async {
        let result = await fetcher.fetchRunStatus(key).result
        let now = Clock.now()
        let changes = hub.record(PollOutcome(key: key, result: result, at: now))
        log(changes, result)
        let settings = self.settings.withLock { $0 }
        var succeeded = true
        if case .failure = result { succeeded = false }
        // A failing meter is retried from the active interval (backing off from there), whatever its
        // last status: its data is going stale.
        let atRest = succeeded && hub.state(of: key)?.status?.isAtRest == true
        let interval = (atRest ? restInterval(settings) : settings.plan.activeInterval) * stretch.withLock { $0 }
        let cycle = schedule.withLock {
            $0.finished(
                key,
                succeeded: succeeded,
                interval: interval,
                now: now,
                jitter: Double.random(in: 0..<1),
                backoffCap: settings.backoffCap
            )
        }
        wakeup.signal()
        if let cycle {
            metrics.setPollCycleDuration(cycle)
            cyclesDone.add(1, ordering: .relaxed)
        }
    }

    private func log(_ changes: TrackerChanges, _ result: PollOutcome.Result) {
        changes.logTransitions(to: logger, source: "poll")
        for (key, succeeded) in changes.pollHealth {
            var metadata: Logger.Metadata = ["meter_id": "\(key.meterId)", "version": "\(key.version)"]
            if succeeded {
                logger.info("polls of meter succeed again", metadata: metadata)
            } else if case .failure(let reason, let message) = result {
                metadata["reason"] = "\(reason.rawValue)"
                metadata["error"] = "\(message)"
                logger.warning("poll of meter failed", metadata: metadata)
            }
        }
        if case .failure(let reason, let message) = result, changes.pollHealth.isEmpty {
            logger.debug(
                "poll of meter failed again",
                metadata: ["reason": "\(reason.rawValue)", "error": "\(message)"]
            )
        }
    }
}

/// A hash that stays the same across runs and machines (Swift's `Hasher` is seeded per process):
/// FNV-1a over the meter id and version. Orders polls within a cycle and assigns shards.
public enum StableHash {
    public static func of(_ key: MeterKey) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(key.meterId)/\(key.version)".utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }
}

/// kube-state-metrics' sharding convention: replica `shard` of `total` owns the meter-versions whose
/// stable hash modulo `total` is `shard`, so replicas together cover every meter-version exactly once.
public struct Shard: Sendable, Equatable {
    public let index: Int
    public let total: Int

    public static let whole = Shard(index: 0, total: 1)

    public init(index: Int, total: Int) {
        self.index = index
        self.total = total
    }

    /// Nil when the pair is usable, else what is wrong with it.
    public var problem: String? {
        guard total >= 1 else { return "--total-shards must be at least 1" }
        guard (0..<total).contains(index) else { return "--shard must be between 0 and \(total - 1)" }
        return nil
    }

    public func owns(_ key: MeterKey) -> Bool { total <= 1 || StableHash.of(key) % UInt64(total) == UInt64(index) }
}
