public import Logging
import Synchronization

/// Polls configured meter-versions on their own schedules (`PollSchedule`): active ones every
/// `activeInterval`, those at rest every `restInterval`, both stretched when the request budget needs it,
/// at most `maxConcurrency` at once. A fault of the whole tenant pauses every poll but one probe
/// (`TenantPause`). Results go to the hub; nothing else is written.
///
/// Waiting and scheduling run on the injected monotonic clock: a wall-clock step changes no poll's
/// timing. The wall clock only stamps the results.
public final class Poller: Sendable {
    private let hub: StatusHub
    private let fetcher: any RunStatusFetching
    private let metrics: ExporterMetrics
    private let logger: Logger
    private let clock: any MonotonicClock
    private let wallClock: any WallClock
    private let jitter: @Sendable () -> Double
    /// Everything the dispatch loop and the finished polls share, under one lock.
    private let state: Mutex<State>
    /// Wakes the dispatch loop when a poll finished (its meter has a new due time) or one was expedited.
    private let wakeup = Wakeup()
    /// Whether callouts arrived recently: then meters at rest can be polled less often.
    private let calloutsHealthy: @Sendable () -> Bool

    private struct State {
        var settings: PollSettings
        var schedule = PollSchedule()
        var pause = TenantPause()
        var stretch = 1.0
        var cyclesDone = 0
        /// Set once Zuora failed for the whole tenant: the exporter then reports what it knows (the
        /// outage) and counts as ready, rather than waiting for a cycle that cannot finish.
        var sawTenantFault = false
        var lastExpiry: Double?
        /// The configured set's generation the schedule was last synced with (`StatusHub`).
        var configuredGeneration = -1
        var meterCount = 0
    }

    public init(
        hub: StatusHub,
        fetcher: any RunStatusFetching,
        settings: PollSettings,
        metrics: ExporterMetrics,
        logger: Logger,
        clock: any MonotonicClock = SystemMonotonicClock(),
        wallClock: any WallClock = SystemWallClock(),
        jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
        calloutsHealthy: @escaping @Sendable () -> Bool = { false }
    ) {
        self.hub = hub
        self.fetcher = fetcher
        self.state = Mutex(State(settings: settings))
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        self.wallClock = wallClock
        self.jitter = jitter
        self.calloutsHealthy = calloutsHealthy
    }

    /// True once every configured meter-version has been polled once (or Zuora is known to be failing
    /// for the whole tenant): what /-/ready reports.
    public var isReady: Bool { state.withLock { $0.cyclesDone > 0 || $0.sawTenantFault } }

    /// Whether polling is paused for a tenant-wide fault.
    public var isPaused: Bool { state.withLock { $0.pause.isPaused } }

    public func update(_ new: PollSettings) { state.withLock { $0.settings = new } }

    /// Polls a meter soon, e.g. after a callout reported that it started running.
    public func expedite(_ key: MeterKey) {
        let now = clock.now()
        state.withLock { $0.schedule.expedite(key, to: now) }
        wakeup.signal()
    }

    /// What the dispatch loop does next.
    private enum Step {
        case poll(MeterKey)
        case wait(until: Double)
        case collect
    }

    /// Runs until the task is cancelled.
    public func run() async {
        var nextSync = -Double.infinity
        await withTaskGroup(of: Void.self) { group in
            // Polls started and not yet collected: an upper bound of those in flight.
            var running = 0
            while !Task.isCancelled {
                let now = clock.now()
                if now >= nextSync {
                    sync(now: now)
                    nextSync = now + 1
                }
                switch nextStep(now: now, running: running, nextSync: nextSync) {
                case .collect:
                    await group.next()
                    running -= 1
                case .wait(let deadline):
                    await wakeup.wait(until: deadline, on: clock)
                case .poll(let key):
                    running += 1
                    group.addTask { await self.poll(key) }
                }
            }
            group.cancelAll()
        }
    }

    private func nextStep(now: Double, running: Int, nextSync: Double) -> Step {
        state.withLock { state in
            if running >= state.settings.maxConcurrency { return .collect }
            switch state.pause.permission(now: now) {
            case .wait(let until):
                return .wait(until: min(until ?? nextSync, nextSync))
            case .probe:
                guard let key = state.schedule.takeSoonest() else { return .wait(until: nextSync) }
                state.pause.probeStarted()
                return .poll(key)
            case .pollDue:
                if let key = state.schedule.takeDue(now: now) { return .poll(key) }
                return .wait(until: min(state.schedule.nextDue() ?? nextSync, nextSync))
            }
        }
    }

    /// Adds and removes meters as the configuration changed, recomputes the budget stretch, and lets
    /// dynamic meters that callouts stopped mentioning expire.
    private func sync(now: Double) {
        let generation = state.withLock { $0.configuredGeneration }
        let changed = hub.configuredKeys(changedSince: generation)
        let resting = hub.countAtRest()
        let (settings, factor, expire) = state.withLock { state in
            if let changed { state.meterCount = changed.keys.count }
            // Nothing to poll (callouts only, or a shard that owns no meter): there is no cycle to wait for.
            if state.meterCount == 0, state.cyclesDone == 0 { state.cyclesDone = 1 }
            state.stretch = state.settings.plan.stretch(active: state.meterCount - resting, resting: resting)
            if let changed {
                // New meters are spread over the interval in force, stretched by the budget: spread over the
                // configured one, a tight budget's first minutes would hold more polls than it allows.
                let spread = state.settings.plan.activeInterval * state.stretch
                state.schedule.sync(changed.keys, now: now, spread: spread)
                state.configuredGeneration = changed.generation
            }
            let expire = state.lastExpiry.map { now - $0 >= 60 } ?? true
            if expire { state.lastExpiry = now }
            return (state.settings, state.stretch, expire)
        }
        metrics.setEffectiveIntervals(
            active: settings.plan.activeInterval * factor,
            rest: restInterval(settings) * factor
        )
        if expire, let ttl = settings.dynamicMeterTTL { hub.expireDynamicMeters(ttl: ttl) }
    }

    private func restInterval(_ settings: PollSettings) -> Double {
        if let webhookRest = settings.webhookRestInterval, calloutsHealthy() {
            return max(webhookRest, settings.plan.restInterval)
        }
        return settings.plan.restInterval
    }

    /// Polls one meter-version, reports the outcome and schedules its next poll.
    public func poll(_ key: MeterKey) async {
        // The hub's clock, the one callouts are stamped with: a callout applied meanwhile supersedes the answer.
        let sentAt = hub.clock.now()
        let fetched = await fetcher.fetchRunStatus(key)
        // Shutting down: a cancelled request says nothing about Zuora.
        guard !Task.isCancelled else { return }
        let result = fetched.result
        let (changes, atRest) = hub.recordPoll(
            PollOutcome(key: key, result: result, at: wallClock.now(), sentAt: sentAt)
        )
        log(changes, result)
        let now = clock.now()
        let draw = jitter()
        let (cycle, pausedNow) = state.withLock { state -> (Double?, Bool?) in
            let settings = state.settings
            let ending: PollSchedule.Ending
            switch (result, fetched.scope) {
            case (.status, _): ending = .succeeded
            case (.failure, .meter): ending = .meterFault
            case (.failure, .tenant): ending = .tenantFault
            }
            let wasPaused = state.pause.isPaused
            if ending == .tenantFault {
                state.pause.fault(now: now, activeInterval: settings.plan.activeInterval, jitter: draw)
                state.sawTenantFault = true
            } else {
                state.pause.cleared()
            }
            // A failing meter is retried from the active interval (backing off from there), whatever its
            // last status: its data is going stale.
            let rest = ending == .succeeded && atRest
            let interval = (rest ? restInterval(settings) : settings.plan.activeInterval) * state.stretch
            let cycle = state.schedule.finished(
                key,
                ending,
                interval: interval,
                now: now,
                jitter: draw,
                backoffCap: settings.backoffCap
            )
            if cycle != nil { state.cyclesDone += 1 }
            return (cycle, state.pause.isPaused != wasPaused ? state.pause.isPaused : nil)
        }
        wakeup.signal()
        if let cycle { metrics.setPollCycleDuration(cycle) }
        if let pausedNow { logPause(pausedNow, result) }
    }

    private func logPause(_ paused: Bool, _ result: PollOutcome.Result) {
        if paused, case .failure(let reason, let message) = result {
            logger.warning(
                "Zuora fails for the whole tenant: polling paused, probing with one request",
                metadata: ["reason": "\(reason.rawValue)", "error": "\(message)"]
            )
        } else if !paused {
            logger.info("Zuora answers again: polling resumed")
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
