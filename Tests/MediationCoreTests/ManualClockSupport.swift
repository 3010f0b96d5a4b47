import ExpositionParser
import Logging
import Prometheus
import Synchronization
import Testing

@testable import MediationCore

/// Runs the tasks of the code under test, and nothing else, on the test's own thread: when `drain()`
/// returns, every one of them is suspended (on the clock, or on another of them) or done. That makes
/// "everything that was due at this time has happened" exact rather than a guess about the scheduler.
final class ManualExecutor: TaskExecutor, @unchecked Sendable {
    private let queue = Mutex<[UnownedJob]>([])

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.withLock { $0.append(job) }
    }

    /// Runs queued jobs, and the jobs they queue, until none is left.
    func drain() {
        while let job = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// Drives code that waits on a `ManualClock`: its tasks run on a `ManualExecutor`, and time moves from one
/// deadline to the next, each sleeper waking at its own time after everything due before has run. No real
/// time passes and nothing depends on the scheduler.
struct ClockDriver {
    let clock: ManualClock
    let executor = ManualExecutor()

    init(clock: ManualClock) { self.clock = clock }

    /// Starts `work` on the executor and runs it until it waits.
    func start(_ work: @escaping @Sendable () async -> Void) -> Task<Void, Never> {
        let task = Task(executorPreference: executor) { await work() }
        settle()
        return task
    }

    /// Runs everything that can run now.
    func settle() { executor.drain() }

    /// Moves time forward by `seconds`, stopping at each deadline on the way.
    func run(for seconds: Double) {
        let end = clock.now() + seconds
        settle()
        while let next = clock.nextDeadline, next <= end {
            clock.advance(by: max(next - clock.now(), 1e-9))
            settle()
        }
        clock.advance(by: end - clock.now())
        settle()
    }

    /// Moves time forward in fixed steps.
    func advance(by seconds: Double, step: Double = 0.5) {
        var left = seconds
        while left > 0 {
            clock.advance(by: min(step, left))
            left -= step
            settle()
        }
    }

    /// Cancels a task started here and runs it to its end.
    func stop(_ task: Task<Void, Never>) async {
        task.cancel()
        settle()
        await task.value
    }
}

/// A Zuora whose tenant can be switched off: while `outage` is on every request fails for the whole
/// tenant (the token endpoint is down). Counts requests by meter and by time.
final class OutageFetcher: RunStatusFetching {
    private struct State {
        var outage = false
        var calls: [MeterKey: Int] = [:]
        var callTimes: [Double] = []
        var lastSuccess: [MeterKey: Double] = [:]
    }

    private let state = Mutex(State())
    private let clock: ManualClock

    init(clock: ManualClock) { self.clock = clock }

    var outage: Bool {
        get { state.withLock { $0.outage } }
        set { state.withLock { $0.outage = newValue } }
    }

    var calls: [MeterKey: Int] { state.withLock { $0.calls } }
    var totalCalls: Int { state.withLock { $0.callTimes.count } }
    var lastSuccess: [MeterKey: Double] { state.withLock { $0.lastSuccess } }

    func fetchRunStatus(_ key: MeterKey) async -> FetchResult {
        let now = clock.now()
        return state.withLock { state in
            state.calls[key, default: 0] += 1
            state.callTimes.append(now)
            if state.outage {
                return FetchResult(.failure(.serverError, message: "token request answered HTTP 503"), scope: .tenant)
            }
            state.lastSuccess[key] = now
            return FetchResult(.status(RunStatus(code: 1)))
        }
    }
}

/// A Zuora on a manual clock: each meter answers the status code a test sets (RUNNING unless told), or
/// fails while a fault is set; every request takes `duration` seconds of the clock. Records when each
/// meter was polled and how many requests were in flight at once.
final class ScriptedFetcher: RunStatusFetching {
    private struct State {
        var codes: [MeterKey: Int] = [:]
        var faults: [MeterKey: FetchResult] = [:]
        var duration: Double
        var times: [MeterKey: [Double]] = [:]
        var inFlight = 0
        var maxInFlight = 0
    }

    private let state: Mutex<State>
    let clock: ManualClock

    init(clock: ManualClock, duration: Double = 0) {
        self.clock = clock
        state = Mutex(State(duration: duration))
    }

    func set(_ key: MeterKey, code: Int) { state.withLock { $0.codes[key] = code } }

    func fail(_ key: MeterKey, _ reason: PollErrorReason = .serverError, scope: FaultScope = .meter) {
        state.withLock { $0.faults[key] = FetchResult(.failure(reason, message: "HTTP 500"), scope: scope) }
    }

    func heal(_ key: MeterKey) { state.withLock { $0.faults[key] = nil } }

    /// When each request for `key` went out, in order.
    func times(_ key: MeterKey) -> [Double] { state.withLock { $0.times[key] ?? [] } }

    func count(_ key: MeterKey) -> Int { times(key).count }

    /// Seconds between consecutive requests for `key`, rounded to milliseconds.
    func gaps(_ key: MeterKey) -> [Double] {
        let times = times(key)
        return zip(times, times.dropFirst()).map { (($1 - $0) * 1000).rounded() / 1000 }
    }

    var total: Int { state.withLock { $0.times.values.reduce(0) { $0 + $1.count } } }
    var inFlight: Int { state.withLock { $0.inFlight } }
    var maxInFlight: Int { state.withLock { $0.maxInFlight } }

    func fetchRunStatus(_ key: MeterKey) async -> FetchResult {
        let now = clock.now()
        let duration = state.withLock { state in
            state.times[key, default: []].append(now)
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
            return state.duration
        }
        if duration > 0 { try? await clock.sleep(until: now + duration) }
        return state.withLock { state in
            state.inFlight -= 1
            return state.faults[key] ?? FetchResult(.status(RunStatus(code: state.codes[key] ?? 5)))
        }
    }
}

/// A value tests change while the code under test reads it.
final class Setting<Value: Sendable>: Sendable {
    private let value: Mutex<Value>

    init(_ value: Value) { self.value = Mutex(value) }

    var current: Value {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}

/// A poller over a hub and a `ScriptedFetcher`, all on one manual clock, with its jitter draw and the
/// callouts' health set by the test.
final class PollerRig: Sendable {
    static let quiet = Logger(label: "poller-rig") { _ in SwiftLogNoOpLogHandler() }

    let clock = ManualClock()
    let wall = ManualWallClock()
    let hub: StatusHub
    let fetcher: ScriptedFetcher
    let metrics = ExporterMetrics(version: "test", revision: "test")
    let poller: Poller
    let jitter = Setting(1.0)
    let calloutsHealthy = Setting(false)
    let driver: ClockDriver
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(_ specs: [MeterSpec], settings: PollSettings, codes: [MeterKey: Int] = [:], fetchDuration: Double = 0) {
        driver = ClockDriver(clock: clock)
        hub = StatusHub(clock: clock, wallClock: wall)
        hub.configure(specs)
        fetcher = ScriptedFetcher(clock: clock, duration: fetchDuration)
        for (key, code) in codes { fetcher.set(key, code: code) }
        let (jitter, healthy) = (jitter, calloutsHealthy)
        poller = Poller(
            hub: hub,
            fetcher: fetcher,
            settings: settings,
            metrics: metrics,
            logger: Self.quiet,
            clock: clock,
            wallClock: wall,
            jitter: { jitter.current },
            calloutsHealthy: { healthy.current }
        )
    }

    func start() {
        let poller = poller
        task.withLock { $0 = driver.start { await poller.run() } }
    }

    func run(for seconds: Double) { driver.run(for: seconds) }

    func settle() { driver.settle() }

    func stop() async {
        guard let running = task.withLock({ $0 }) else { return }
        await driver.stop(running)
    }

    /// A gauge or counter of the exporter's own metrics.
    func metric(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        ParsedExposition(String(decoding: metrics.registry.emitToBuffer(), as: UTF8.self)).value(name, labels)
    }
}
