import Logging
import Synchronization

@testable import MediationCore

/// A summary API on a manual clock: answers from a script (the last answer repeats), each after
/// `duration` seconds, or never (`hang`) until cancelled. Records every request and when it went out.
final class ScriptedSummaries: SummaryFetching {
    private struct State {
        var answers: [SummaryFetchResult]
        var requests: [(at: Double, run: EndedRun)] = []
        var inFlight = 0
        var maxInFlight = 0
        var hang = false
    }

    private let state: Mutex<State>
    let clock: ManualClock

    init(clock: ManualClock, answers: [SummaryFetchResult] = [.summary(ScriptedSummaries.sample)]) {
        self.clock = clock
        state = Mutex(State(answers: answers))
    }

    static var sample: SessionSummary {
        var summary = SessionSummary()
        summary.add(operatorId: "op-read", errorCode: nil, counts: RecordCounts(output: 900))
        summary.add(operatorId: "op-read", errorCode: "E_PARSE", counts: RecordCounts(error: 50))
        return summary
    }

    static func failure(_ reason: PollErrorReason, scope: FaultScope = .meter) -> SummaryFetchResult {
        .failure(reason, message: "HTTP 500", scope: scope)
    }

    var hang: Bool {
        get { state.withLock { $0.hang } }
        set { state.withLock { $0.hang = newValue } }
    }

    func answer(_ answers: [SummaryFetchResult]) { state.withLock { $0.answers = answers } }

    var requests: [(at: Double, run: EndedRun)] { state.withLock { $0.requests } }
    var times: [Double] { requests.map(\.at) }
    var maxInFlight: Int { state.withLock { $0.maxInFlight } }

    func fetchSummary(_ run: EndedRun) async -> SummaryFetchResult {
        let now = clock.now()
        let (answer, hang) = state.withLock { state -> (SummaryFetchResult, Bool) in
            state.requests.append((now, run))
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
            let answer = state.answers.count > 1 ? state.answers.removeFirst() : state.answers.first
            return (answer ?? .summary(SessionSummary()), state.hang)
        }
        if hang { try? await clock.sleep(until: .greatestFiniteMagnitude) }
        state.withLock { $0.inFlight -= 1 }
        if Task.isCancelled { return .failure(.network, message: "cancelled", scope: .meter) }
        return answer
    }
}

/// A hub, a summary scheduler on `ScriptedSummaries`, and (for tests that need it) a poller, on one
/// manual clock.
final class SummaryRig: Sendable {
    let rig: PollerRig
    let summaries: ScriptedSummaries
    let scheduler: SummaryScheduler
    let paused = Setting(false)
    private let task = Mutex<Task<Void, Never>?>(nil)

    var hub: StatusHub { rig.hub }
    var clock: ManualClock { rig.clock }

    init(
        _ specs: [MeterSpec] = [spec(101)],
        settings: SummaryConfig = SummaryConfig(enabled: true),
        poll: PollSettings = PollSettings(interval: 30, maxConcurrency: 4),
        fetcher: (any SummaryFetching)? = nil
    ) {
        rig = PollerRig(specs, settings: poll)
        rig.hub.configureRecords(settings)
        rig.metrics.enableSummarySeries()
        summaries = ScriptedSummaries(clock: rig.clock)
        let paused = paused
        scheduler = SummaryScheduler(
            hub: rig.hub,
            fetcher: fetcher ?? summaries,
            metrics: rig.metrics,
            logger: PollerRig.quiet,
            clock: rig.clock,
            tenantPaused: { paused.current }
        )
    }

    func start() {
        let scheduler = scheduler
        task.withLock { $0 = rig.driver.start { await scheduler.run() } }
    }

    func stop() async {
        guard let running = task.withLock({ $0 }) else { return }
        await rig.driver.stop(running)
    }

    func run(for seconds: Double) { rig.run(for: seconds) }

    /// A run of `meter` seen by polls: RUNNING, then `code`.
    func end(_ meter: MeterKey, _ code: Int = 8) {
        hub.record(ok(meter, 5, at: rig.wall.now()))
        rig.wall.step(by: 60)
        hub.record(ok(meter, code, at: rig.wall.now()))
        rig.settle()
    }
}

/// A Zuora that enforces a request budget as the client's gate does, polls first: summaries take a request
/// only when `reserve` remain. Each meter alternates RUNNING and FAILED, so that every other poll ends a
/// run. Counts polls, summaries and the most requests in any minute.
final class BudgetedZuora: RunStatusFetching, SummaryFetching {
    private struct State {
        var budget: RequestBudget
        var polls: [MeterKey: Int] = [:]
        var times: [Double] = []
        var summaries = 0
    }

    private let state: Mutex<State>
    let clock: ManualClock
    let reserve: Int

    init(clock: ManualClock, limits: BudgetLimits, reserve: Int) {
        self.clock = clock
        self.reserve = reserve
        state = Mutex(State(budget: RequestBudget(limits: limits)))
    }

    var polls: Int { state.withLock { $0.polls.values.reduce(0, +) } }
    var summaries: Int { state.withLock { $0.summaries } }

    /// The most requests sent within any 60 s.
    var maxPerMinute: Int {
        let times = state.withLock { $0.times }
        return times.map { start in times.count { $0 >= start && $0 < start + 60 } }.max() ?? 0
    }

    private func take(keeping: Int) async -> Bool {
        while !Task.isCancelled {
            let now = clock.now()
            let retryAt = state.withLock { state -> Double? in
                let retryAt = state.budget.reserve(now: now, keeping: keeping)
                if retryAt == nil { state.times.append(now) }
                return retryAt
            }
            guard let retryAt else { return true }
            do { try await clock.sleep(until: min(retryAt, now + 1)) } catch { return false }
        }
        return false
    }

    func fetchRunStatus(_ key: MeterKey) async -> FetchResult {
        guard await take(keeping: 0) else { return FetchResult(.failure(.network, message: "cancelled")) }
        let count = state.withLock { state in
            state.polls[key, default: 0] += 1
            return state.polls[key] ?? 0
        }
        return FetchResult(.status(RunStatus(code: count % 2 == 0 ? 8 : 5)))
    }

    func fetchSummary(_ run: EndedRun) async -> SummaryFetchResult {
        guard await take(keeping: reserve) else { return .failure(.network, message: "cancelled", scope: .meter) }
        state.withLock { $0.summaries += 1 }
        return .summary(ScriptedSummaries.sample)
    }
}

/// A poller and, optionally, a summary scheduler sharing one `BudgetedZuora`.
final class BudgetRig: Sendable {
    let zuora: BudgetedZuora
    let driver: ClockDriver
    private let tasks = Mutex<[Task<Void, Never>]>([])

    init(_ specs: [MeterSpec], poll: PollSettings, zuora: BudgetedZuora, clock: ManualClock?, summaries: Bool) {
        self.zuora = zuora
        let clock = zuora.clock
        driver = ClockDriver(clock: clock)
        let hub = StatusHub(clock: clock, wallClock: ManualWallClock())
        hub.configure(specs)
        hub.configureRecords(SummaryConfig(enabled: summaries))
        let metrics = ExporterMetrics(version: "test", revision: "test")
        let poller = Poller(
            hub: hub,
            fetcher: zuora,
            settings: poll,
            metrics: metrics,
            logger: PollerRig.quiet,
            clock: clock,
            wallClock: ManualWallClock(),
            jitter: { 1 }
        )
        let scheduler = SummaryScheduler(
            hub: hub,
            fetcher: zuora,
            metrics: metrics,
            logger: PollerRig.quiet,
            clock: clock
        )
        var started = [driver.start { await poller.run() }]
        if summaries { started.append(driver.start { await scheduler.run() }) }
        tasks.withLock { $0 = started }
    }

    func run(for seconds: Double) { driver.run(for: seconds) }

    func stop() async {
        for task in tasks.withLock({ $0 }) { await driver.stop(task) }
    }
}
