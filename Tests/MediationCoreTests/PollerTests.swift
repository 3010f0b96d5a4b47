import Logging
import Testing

@testable import MediationCore

/// A scripted Zuora: answers per meter in turn (the last one repeats), counts calls and concurrency.
actor FakeFetcher: RunStatusFetching {
    private var scripts: [MeterKey: [PollOutcome.Result]]
    private let delay: Duration
    private(set) var calls: [MeterKey: Int] = [:]
    private(set) var inFlight = 0
    private(set) var maxInFlight = 0

    init(_ scripts: [MeterKey: [PollOutcome.Result]] = [:], delay: Duration = .zero) {
        self.scripts = scripts
        self.delay = delay
    }

    func fetchRunStatus(_ key: MeterKey) async -> FetchResult {
        inFlight += 1
        maxInFlight = max(maxInFlight, inFlight)
        calls[key, default: 0] += 1
        if delay > .zero { try? await Task.sleep(for: delay) }
        inFlight -= 1
        guard var script = scripts[key], !script.isEmpty else { return FetchResult(.status(RunStatus(code: 5))) }
        let answer = script.removeFirst()
        scripts[key] = script.isEmpty ? [answer] : script
        return FetchResult(answer)
    }
}

struct PollerTests {
    static let quiet = Logger(label: "poller-tests") { _ in SwiftLogNoOpLogHandler() }

    func poller(_ hub: StatusHub, _ fetcher: FakeFetcher, interval: Double = 0.2, maxConcurrency: Int = 4) -> Poller {
        Poller(
            hub: hub,
            fetcher: fetcher,
            settings: PollSettings(interval: interval, maxConcurrency: maxConcurrency),
            metrics: ExporterMetrics(version: "test", revision: "test"),
            logger: Self.quiet
        )
    }

    /// Runs the poller until `condition` holds (or `timeout` passes), then for `extra` seconds more.
    func run(
        _ poller: Poller,
        timeout: Double = 10,
        extra: Double = 0,
        until condition: () async -> Bool
    ) async
        -> Bool
    {
        let task = Task { await poller.run() }
        let deadline = SystemMonotonicClock().now() + timeout
        var met = await condition()
        while !met, SystemMonotonicClock().now() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
            met = await condition()
        }
        if extra > 0 { try? await Task.sleep(for: .milliseconds(Int(extra * 1000))) }
        task.cancel()
        await task.value
        return met
    }

    @Test func aPollFeedsTheHub() async throws {
        let hub = StatusHub()
        let meter = key(101)
        hub.configure([spec(101)])
        let fetcher = FakeFetcher([
            meter: [.status(RunStatus(code: 5)), .status(RunStatus(code: 8)), .failure(.rateLimited, message: "429")]
        ])
        let poller = poller(hub, fetcher)
        await poller.poll(meter)
        #expect(hub.state(of: meter)?.status?.code == 5)
        await poller.poll(meter)
        let failedRun = try #require(hub.state(of: meter))
        #expect(failedRun.status?.code == 8)
        #expect(failedRun.failures == 1)
        #expect(failedRun.transitions == [Transition(from: "RUNNING", to: "FAILED"): 1])
        await poller.poll(meter)
        let afterError = try #require(hub.state(of: meter))
        #expect(afterError.status?.code == 8, "a failed poll keeps the status")
        #expect(afterError.lastPollSucceeded == false)
        #expect(afterError.pollErrors == [.rateLimited: 1])
        let parsed = ParsedExposition(text(hub.store.body()))
        #expect(parsed.value("zuora_meter_poll_success", meterLabels(meter)) == 0)
        #expect(parsed.value("zuora_meter_run_status", meterLabels(meter)) == 8)
        #expect(await fetcher.calls[meter] == 3)
    }

    @Test func aRunPollsEveryMeterAndBecomesReady() async {
        let hub = StatusHub()
        let specs = (1...6).map { spec(Int64($0)) }
        hub.configure(specs)
        let fetcher = FakeFetcher(delay: .milliseconds(20))
        let poller = poller(hub, fetcher, interval: 0.2, maxConcurrency: 4)
        #expect(!poller.isReady, "not ready before any poll")
        let ready = await run(poller, extra: 0.5) { poller.isReady }
        #expect(ready, "ready after the first cycle")
        let calls = await fetcher.calls
        for meter in specs.map(\.key) {
            #expect((calls[meter] ?? 0) >= 1, "\(meter) was polled")
            #expect(hub.state(of: meter)?.status?.code == 5)
        }
        #expect(calls.values.reduce(0, +) >= 6 + 3, "meters are polled again on later cycles: \(calls)")
        #expect(Set(calls.keys).isSubset(of: Set(specs.map(\.key))), "only configured meters are polled")
    }

    @Test(arguments: [1, 2, 3])
    func aRunNeverExceedsMaxConcurrency(limit: Int) async {
        let hub = StatusHub()
        let specs = (1...8).map { spec(Int64($0)) }
        hub.configure(specs)
        // Each poll takes longer than the whole interval: without a limit all eight would overlap.
        let fetcher = FakeFetcher(delay: .milliseconds(150))
        let poller = poller(hub, fetcher, interval: 0.1, maxConcurrency: limit)
        let done = await run(poller, extra: 0.3) {
            let calls = await fetcher.calls
            return specs.allSatisfy { (calls[$0.key] ?? 0) >= 1 }
        }
        #expect(done, "every meter was polled")
        let peak = await fetcher.maxInFlight
        #expect(peak <= limit, "at most \(limit) polls in flight, saw \(peak)")
        #expect(peak >= 1)
        #expect(await fetcher.inFlight == 0, "cancelling waits for polls in flight")
    }

    @Test func failingMetersDoNotKeepTheOthersFromBeingReady() async {
        let hub = StatusHub()
        hub.configure([spec(1), spec(2), spec(3)])
        let fetcher = FakeFetcher([key(2): [.failure(.serverError, message: "500")]], delay: .milliseconds(10))
        let poller = poller(hub, fetcher)
        let ready = await run(poller) { poller.isReady }
        #expect(ready)
        #expect(hub.state(of: key(2))?.lastPollSucceeded == false)
        #expect(hub.state(of: key(1))?.status?.code == 5)
        #expect(hub.state(of: key(3))?.status?.code == 5)
    }

    @Test func metersAddedByAReloadArePolled() async {
        let hub = StatusHub()
        hub.configure([spec(1)])
        let fetcher = FakeFetcher()
        let poller = poller(hub, fetcher)
        let task = Task { await poller.run() }
        defer { task.cancel() }
        let deadline = SystemMonotonicClock().now() + 10
        while !poller.isReady, SystemMonotonicClock().now() < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        hub.configure([spec(1), spec(2, "0.0.2")])
        while hub.state(of: key(2, "0.0.2"))?.status == nil, SystemMonotonicClock().now() < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        hub.configure([spec(2, "0.0.2")])
        try? await Task.sleep(for: .milliseconds(1500))
        let before = await fetcher.calls[key(1)] ?? 0
        try? await Task.sleep(for: .milliseconds(600))
        task.cancel()
        await task.value
        #expect(hub.state(of: key(2, "0.0.2"))?.status?.code == 5, "the added meter was polled")
        #expect(await fetcher.calls[key(1)] ?? 0 == before, "the removed meter is no longer polled")
        #expect(hub.state(of: key(1)) == nil)
    }

    @Test func anExporterWithNoConfiguredMetersBecomesReady() async {
        // `meters:` may be empty (callouts only), and a shard may own none of the meters: with nothing to
        // poll, the first cycle is trivially complete and /-/ready must not stay 503 forever.
        let hub = StatusHub()
        hub.configure([])
        let poller = poller(hub, FakeFetcher())
        let ready = await run(poller, timeout: 3) { poller.isReady }
        #expect(ready, "no meters to poll: ready at once")
    }
}
