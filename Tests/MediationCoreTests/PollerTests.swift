import ExpositionParser
import Testing

@testable import MediationCore

/// The poller's own rules, on a manual clock: first cycle, readiness, concurrency, configuration changes,
/// expedite. Intervals by status, budget and failures are in `PollerIntervalTests`.
struct PollerTests {
    static func settings(_ interval: Double = 60, maxConcurrency: Int = 4) -> PollSettings {
        PollSettings(interval: interval, maxConcurrency: maxConcurrency)
    }

    @Test func aPollFeedsTheHub() async throws {
        let meter = key(101)
        let rig = PollerRig([spec(101)], settings: Self.settings())
        rig.fetcher.set(meter, code: 5)
        await rig.poller.poll(meter)
        #expect(rig.hub.state(of: meter)?.status?.code == 5)
        rig.fetcher.set(meter, code: 8)
        await rig.poller.poll(meter)
        let failedRun = try #require(rig.hub.state(of: meter))
        #expect(failedRun.status?.code == 8)
        #expect(failedRun.failures == 1)
        #expect(failedRun.transitions == [Transition(from: "RUNNING", to: "FAILED"): 1])
        rig.fetcher.fail(meter, .rateLimited)
        await rig.poller.poll(meter)
        let afterError = try #require(rig.hub.state(of: meter))
        #expect(afterError.status?.code == 8, "a failed poll keeps the status")
        #expect(afterError.lastPollSucceeded == false)
        #expect(afterError.pollErrors == [.rateLimited: 1])
        let parsed = ParsedExposition(text(rig.hub.store.body()))
        #expect(parsed.value("zuora_meter_poll_success", meterLabels(meter)) == 0)
        #expect(parsed.value("zuora_meter_run_status", meterLabels(meter)) == 8)
        #expect(rig.fetcher.count(meter) == 3)
    }

    /// A callout applied while a poll is on its way: the poll's answer (what Zuora said when it was sent)
    /// does not count the run as running and failing again.
    @Test func aCalloutArrivingWhileAPollIsInFlightIsNotUndoneByItsAnswer() async throws {
        let meter = key(101)
        let rig = PollerRig([spec(101)], settings: Self.settings(), codes: [meter: 5], fetchDuration: 2)
        let first = rig.driver.start { await rig.poller.poll(meter) }
        rig.run(for: 2)
        await first.value
        #expect(rig.hub.state(of: meter)?.status?.code == 5)
        let inFlight = rig.driver.start { await rig.poller.poll(meter) }
        rig.run(for: 1)
        let event = StatusEvent(
            key: meter,
            meterName: nil,
            sessionId: "S-1",
            runType: "NORMAL",
            status: RunStatus(code: 8),
            previousStatus: RunStatus(code: 5),
            sessionDuration: nil
        )
        #expect(rig.hub.record(event, maxDynamicMeters: 10).1 == .accepted)
        rig.run(for: 2)
        await inFlight.value
        #expect(rig.fetcher.count(meter) == 2)
        #expect(rig.hub.state(of: meter)?.status?.code == 8, "the answer sent before the callout changed nothing")
        rig.fetcher.set(meter, code: 8)
        let next = rig.driver.start { await rig.poller.poll(meter) }
        rig.run(for: 2)
        await next.value
        let state = try #require(rig.hub.state(of: meter))
        #expect(state.status?.code == 8)
        #expect(state.failures == 1)
        #expect(state.transitions == [Transition(from: "RUNNING", to: "FAILED"): 1])
    }

    @Test func theFirstCycleSpreadsTheMetersOverOneIntervalThenEachKeepsItsPlace() async {
        let specs = (1...6).map { spec(Int64($0)) }
        let rig = PollerRig(specs, settings: Self.settings(60))
        let start = rig.clock.now()
        #expect(!rig.poller.isReady, "not ready before any poll")
        rig.start()
        rig.run(for: 49)
        #expect(!rig.poller.isReady, "not ready while a meter waits for its first poll")
        rig.run(for: 1)
        #expect(rig.poller.isReady, "ready once the last meter of the first cycle was polled")
        // One meter every 10 s, in stable-hash order: never the whole fleet in one burst.
        let order = specs.map(\.key).sorted { StableHash.of($0) < StableHash.of($1) }
        #expect(order.map { rig.fetcher.times($0) } == (0..<6).map { [start + Double($0) * 10] })
        #expect(rig.metric("zuora_exporter_poll_cycle_duration_seconds") == 50)

        rig.run(for: 130)
        for meter in order {
            #expect(rig.fetcher.gaps(meter).allSatisfy { $0 == 60 }, "\(meter): \(rig.fetcher.gaps(meter))")
            #expect(rig.fetcher.count(meter) >= 3)
            #expect(rig.hub.state(of: meter)?.status?.code == 5)
        }
        #expect(rig.metric("zuora_exporter_poll_cycle_duration_seconds") == 60, "later cycles take one interval")
        await rig.stop()
    }

    @Test(arguments: [1, 2, 3])
    func aRunNeverExceedsMaxConcurrency(limit: Int) async {
        let specs = (1...8).map { spec(Int64($0)) }
        // Each request takes longer than the whole interval: without a limit all eight would overlap.
        let rig = PollerRig(specs, settings: Self.settings(10, maxConcurrency: limit), fetchDuration: 30)
        rig.start()
        rig.run(for: 300)
        #expect(specs.allSatisfy { rig.fetcher.count($0.key) >= 1 }, "every meter was polled")
        #expect(rig.fetcher.maxInFlight == limit, "at most \(limit) requests in flight, saw \(rig.fetcher.maxInFlight)")
        #expect(rig.fetcher.total >= limit * 8, "the limit is used: \(rig.fetcher.total) requests in 300 s")
        await rig.stop()
        #expect(rig.fetcher.inFlight == 0, "stopping waits for the requests in flight")
    }

    @Test func failingMetersDoNotKeepTheOthersFromBeingReady() async {
        let rig = PollerRig([spec(1), spec(2), spec(3)], settings: Self.settings(60))
        rig.fetcher.fail(key(2))
        rig.start()
        rig.run(for: 60)
        #expect(rig.poller.isReady)
        #expect(rig.hub.state(of: key(2))?.lastPollSucceeded == false)
        #expect(rig.hub.state(of: key(1))?.status?.code == 5)
        #expect(rig.hub.state(of: key(3))?.status?.code == 5)
        // A poll loop left running would hold its tasks (and their memory) to the end of the process.
        await rig.stop()
    }

    @Test func aTenantWideFaultMakesTheExporterReadyToReportIt() async {
        let rig = PollerRig((1...6).map { spec(Int64($0)) }, settings: Self.settings(60))
        for id in 1...6 { rig.fetcher.fail(key(Int64(id)), .network, scope: .tenant) }
        rig.start()
        #expect(rig.poller.isReady, "Zuora is down for everyone: the cycle cannot finish, the outage is reported")
        #expect(rig.poller.isPaused)
        await rig.stop()
    }

    @Test func anExporterWithNoConfiguredMetersBecomesReady() async {
        // `meters:` may be empty (callouts only), and a shard may own none of the meters: with nothing to
        // poll, the first cycle is trivially complete and /-/ready must not stay 503 forever.
        let rig = PollerRig([], settings: Self.settings())
        rig.start()
        #expect(rig.poller.isReady, "no meters to poll: ready at once")
        await rig.stop()
    }

    @Test func metersAddedByAReloadArePolledAtOnceAndRemovedOnesNoLonger() async {
        let (first, added) = (key(1), key(2, "0.0.2"))
        let rig = PollerRig([spec(1)], settings: Self.settings(60))
        rig.start()
        rig.run(for: 90)
        rig.hub.configure([spec(1), spec(2, "0.0.2")])
        rig.run(for: 1)
        #expect(rig.hub.state(of: added)?.status?.code == 5, "the added meter is polled within a second")
        rig.hub.configure([spec(2, "0.0.2")])
        rig.run(for: 1)
        let polls = rig.fetcher.count(first)
        rig.run(for: 300)
        #expect(rig.fetcher.count(first) == polls, "the removed meter is no longer polled")
        #expect(rig.hub.state(of: first) == nil)
        #expect(rig.fetcher.gaps(added).allSatisfy { $0 == 60 }, "the added one keeps its interval")
        #expect(rig.fetcher.count(added) >= 5)
        await rig.stop()
    }

    @Test func aCalloutThatAnnouncesARunHasTheMeterPolledAtOnce() async {
        let meter = key(101)
        let settings = PollSettings(
            plan: PollPlan(activeInterval: 10, restInterval: 300, budget: BudgetLimits()),
            maxConcurrency: 4
        )
        let rig = PollerRig([spec(101)], settings: settings, codes: [meter: 7])
        rig.start()
        rig.run(for: 100)
        #expect(rig.fetcher.count(meter) == 1, "at rest: next poll only after 300 s")
        rig.fetcher.set(meter, code: 5)
        rig.poller.expedite(meter)
        rig.settle()
        #expect(rig.fetcher.times(meter).last == rig.clock.now(), "polled as soon as the callout came")
        #expect(rig.hub.state(of: meter)?.status?.code == 5)
        rig.run(for: 30)
        #expect(rig.fetcher.gaps(meter) == [100, 10, 10, 10], "running now: polled every active interval")
        rig.poller.expedite(key(999))
        rig.run(for: 5)
        #expect(rig.fetcher.count(key(999)) == 0, "an unknown meter is not polled")
        await rig.stop()
    }
}
