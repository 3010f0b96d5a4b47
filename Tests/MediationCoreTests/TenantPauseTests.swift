import Logging
import Testing

@testable import MediationCore

struct TenantPauseTests {
    static let quiet = Logger(label: "tenant-pause-tests") { _ in SwiftLogNoOpLogHandler() }

    @Test func aFaultPausesEverythingButOneProbeOnACappedSchedule() {
        var pause = TenantPause()
        #expect(pause.permission(now: 0) == .pollDue)
        pause.fault(now: 100, activeInterval: 60, jitter: 1)
        #expect(pause.isPaused)
        guard case .wait(let until?) = pause.permission(now: 100) else {
            Issue.record("paused: nothing goes out")
            return
        }
        #expect(until > 100 && until <= 130)
        #expect(pause.permission(now: until) == .probe)
        pause.probeStarted()
        #expect(pause.permission(now: until + 100) == .wait(until: nil), "one probe at a time")
        // However long the outage, the next probe is at most half an interval away.
        for _ in 0..<40 { pause.fault(now: 1000, activeInterval: 60, jitter: 1) }
        guard case .wait(let later?) = pause.permission(now: 1000) else {
            Issue.record("still paused")
            return
        }
        #expect(later <= 1030, "probe schedule capped at half the interval, got +\(later - 1000)")
        pause.cleared()
        #expect(pause.permission(now: 1000) == .pollDue)
        #expect(pause.failures == 0)
    }

    @Test func aTenantFaultDoesNotGrowTheMetersOwnBackoff() {
        var schedule = PollSchedule()
        let meter = key(1)
        schedule.sync([meter], now: 0, spread: 60)
        for round in 0..<10 {
            let now = Double(round)
            _ = schedule.takeSoonest()
            schedule.finished(meter, .tenantFault, interval: 60, now: now, jitter: 1, backoffCap: 600)
            #expect(schedule.nextDue() == now, "due as soon as polling resumes")
        }
        _ = schedule.takeSoonest()
        schedule.finished(meter, .meterFault, interval: 60, now: 10, jitter: 1, backoffCap: 600)
        #expect(schedule.nextDue() == 70, "a meter fault after tenant faults starts from the first back-off step")
    }

    func poller(
        _ hub: StatusHub,
        _ fetcher: some RunStatusFetching,
        clock: ManualClock,
        wall: ManualWallClock
    )
        -> Poller
    {
        Poller(
            hub: hub,
            fetcher: fetcher,
            settings: PollSettings(interval: 60, maxConcurrency: 4),
            metrics: ExporterMetrics(version: "test", revision: "test"),
            logger: Self.quiet,
            clock: clock,
            wallClock: wall,
            jitter: { 0.5 }
        )
    }

    @Test func twentyMetersRecoverWithinOneIntervalOfTheTokenEndpointsRecovery() async {
        let clock = ManualClock()
        let driver = ClockDriver(clock: clock)
        let hub = StatusHub(clock: clock)
        let specs = (1...20).map { spec(Int64($0)) }
        hub.configure(specs)
        let fetcher = OutageFetcher(clock: clock)
        let poller = poller(hub, fetcher, clock: clock, wall: ManualWallClock())
        let task = driver.start { await poller.run() }
        driver.advance(by: 61)
        #expect(fetcher.calls.count == 20, "every meter polled in the first cycle")

        fetcher.outage = true
        driver.advance(by: 61)
        #expect(poller.isPaused, "the token endpoint's outage pauses polling")
        let callsAtOutageStart = fetcher.totalCalls
        driver.advance(by: 60)
        let probes = fetcher.totalCalls - callsAtOutageStart
        #expect(probes >= 1 && probes <= 8, "one probe at a time during the outage, not 20 meters' retries: \(probes)")

        fetcher.outage = false
        let recovery = clock.now()
        driver.advance(by: 60)
        #expect(!poller.isPaused, "the probe's success resumes polling")
        let recovered = fetcher.lastSuccess
        for meter in specs.map(\.key) {
            let at = recovered[meter] ?? 0
            #expect(at >= recovery && at <= recovery + 60, "\(meter) polled within one interval of recovery")
        }
        await driver.stop(task)
    }

    @Test(arguments: [-3600.0, 3600.0])
    func aWallClockStepChangesNoPollsTiming(step: Double) async {
        let clock = ManualClock()
        let wall = ManualWallClock()
        let driver = ClockDriver(clock: clock)
        let hub = StatusHub(clock: clock, wallClock: wall)
        hub.configure([spec(1)])
        let fetcher = OutageFetcher(clock: clock)
        let poller = poller(hub, fetcher, clock: clock, wall: wall)
        let task = driver.start { await poller.run() }
        driver.advance(by: 130)
        let before = fetcher.calls[key(1)] ?? 0
        #expect(before == 3, "polled at 0, 60 and 120 s")
        wall.step(by: step)
        driver.advance(by: 120)
        #expect(
            fetcher.calls[key(1)] == before + 2,
            "two more polls in the next two minutes, whatever the wall clock did"
        )
        let shown = hub.state(of: key(1))?.lastPollAt ?? 0
        #expect(shown == wall.now(), "shown timestamps follow the wall clock")
        await driver.stop(task)
    }
}
