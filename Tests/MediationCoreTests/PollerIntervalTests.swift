import Testing

@testable import MediationCore

/// How often the poller polls each meter, on a manual clock: by status (active or at rest), while callouts
/// are healthy, when the request budget needs longer intervals, and while a meter fails.
struct PollerIntervalTests {
    static func settings(
        active: Double = 10,
        rest: Double = 60,
        budget: BudgetLimits = BudgetLimits(),
        webhookRest: Double? = nil,
        backoffCap: Double = 600
    ) -> PollSettings {
        var settings = PollSettings(
            plan: PollPlan(activeInterval: active, restInterval: rest, budget: budget),
            maxConcurrency: 4,
            webhookRestInterval: webhookRest
        )
        settings.backoffCap = backoffCap
        return settings
    }

    @Test func aRunningMeterIsPolledEveryActiveIntervalAndOneAtRestEveryRestInterval() async {
        let (running, resting) = (key(101), key(102))
        let rig = PollerRig([spec(101), spec(102)], settings: Self.settings(), codes: [running: 5, resting: 7])
        rig.start()
        rig.run(for: 600)
        #expect(Set(rig.fetcher.gaps(running)) == [10], "RUNNING: every 10 s")
        #expect(Set(rig.fetcher.gaps(resting)) == [60], "COMPLETED: every 60 s")
        #expect(rig.metric("zuora_exporter_effective_poll_interval_seconds", ["state": "active"]) == 10)
        #expect(rig.metric("zuora_exporter_effective_poll_interval_seconds", ["state": "rest"]) == 60)

        // The run ends and another starts: each meter takes the other's pace after its next poll.
        rig.fetcher.set(running, code: 7)
        rig.fetcher.set(resting, code: 5)
        rig.run(for: 60)
        let (before, after) = (rig.fetcher.count(running), rig.fetcher.count(resting))
        rig.run(for: 300)
        #expect(rig.fetcher.count(running) - before == 5, "completed now: every 60 s")
        #expect(rig.fetcher.count(resting) - after == 30, "running now: every 10 s")
        await rig.stop()
    }

    @Test func whileCalloutsArriveMetersAtRestArePolledEveryWebhookRestInterval() async {
        let (running, resting) = (key(101), key(102))
        let rig = PollerRig(
            [spec(101), spec(102)],
            settings: Self.settings(webhookRest: 300),
            codes: [running: 5, resting: 7]
        )
        rig.calloutsHealthy.current = true
        rig.start()
        rig.run(for: 1200)
        #expect(Set(rig.fetcher.gaps(resting)) == [300], "callouts cover changes: at rest every 300 s")
        #expect(Set(rig.fetcher.gaps(running)) == [10], "running meters keep the active interval")
        #expect(rig.metric("zuora_exporter_effective_poll_interval_seconds", ["state": "rest"]) == 300)

        // Callouts stop: back to the rest interval after the poll already scheduled.
        rig.calloutsHealthy.current = false
        rig.run(for: 300)
        let polls = rig.fetcher.count(resting)
        rig.run(for: 600)
        #expect(rig.fetcher.count(resting) - polls == 10, "without callouts: at rest every 60 s")
        #expect(rig.metric("zuora_exporter_effective_poll_interval_seconds", ["state": "rest"]) == 60)
        await rig.stop()
    }

    @Test func aWebhookRestIntervalShorterThanTheRestIntervalDoesNotPollMoreOften() async {
        let resting = key(102)
        let rig = PollerRig([spec(102)], settings: Self.settings(rest: 120, webhookRest: 30), codes: [resting: 7])
        rig.calloutsHealthy.current = true
        rig.start()
        rig.run(for: 600)
        #expect(Set(rig.fetcher.gaps(resting)) == [120])
        await rig.stop()
    }

    @Test func aBudgetTooSmallForTheIntervalsStretchesThemEvenly() async {
        // Four running meters every 10 s: 24 requests a minute against a budget of 10.
        let specs = (1...4).map { spec(Int64($0)) }
        let rig = PollerRig(specs, settings: Self.settings(budget: BudgetLimits(perMinute: 10)))
        rig.start()
        rig.run(for: 60)
        let stretched = 10 * 24 / 9.5
        let active = rig.metric("zuora_exporter_effective_poll_interval_seconds", ["state": "active"]) ?? 0
        #expect(abs(active - stretched) < 0.001, "stretched to fit 95 % of the budget: \(active) s")
        let before = rig.fetcher.total
        rig.run(for: 600)
        let perMinute = Double(rig.fetcher.total - before) / 10
        #expect(perMinute <= 9.5 + 0.4 && perMinute >= 9, "about 9.5 requests a minute: \(perMinute)")
        for meter in specs.map(\.key) {
            let gaps = rig.fetcher.gaps(meter).dropFirst()
            #expect(gaps.allSatisfy { abs($0 - stretched) < 0.01 }, "\(meter) evenly: \(gaps)")
        }
        await rig.stop()
    }

    @Test func aStretchedFleetFitsEverySlidingMinuteOfTheBudget() async {
        // Spread over the stretched interval (25.3 s), four meters would be 6.3 s apart: at most 10 requests
        // in any minute. Spread over the configured 10 s, they are 2.5 s apart and some minutes hold 12,
        // which the request gate then holds back (polls go out late).
        let specs = (1...4).map { spec(Int64($0)) }
        let rig = PollerRig(specs, settings: Self.settings(budget: BudgetLimits(perMinute: 10)))
        rig.start()
        rig.run(for: 900)
        let times = specs.flatMap { rig.fetcher.times($0.key) }.sorted()
        let busiest = times.map { start in times.count { $0 >= start && $0 < start + 60 } }.max() ?? 0
        #expect(busiest <= 10, "\(busiest) requests in the busiest minute against a budget of 10")
        await rig.stop()
    }

    @Test func aBudgetThatFitsChangesNoInterval() async {
        let rig = PollerRig([spec(1), spec(2)], settings: Self.settings(budget: BudgetLimits(perMinute: 1000)))
        rig.start()
        rig.run(for: 120)
        #expect(Set(rig.fetcher.gaps(key(1))) == [10])
        #expect(rig.metric("zuora_exporter_effective_poll_interval_seconds", ["state": "active"]) == 10)
        await rig.stop()
    }

    /// Gaps between the polls of a failing meter: exponential from the active interval (10 s) up to the
    /// cap (120 s), times the jitter draw, never shorter than the interval.
    @Test(arguments: [
        (1.0, [10.0, 20, 40, 80, 120, 120]),
        (0.5, [10.0, 10, 20, 40, 60, 60]),
        (0.0, [10.0, 10, 10, 10, 10, 10]),
    ])
    func aFailingMeterBacksOffAloneAndRecoversOnItsNextSuccess(jitter: Double, expected: [Double]) async {
        let (failing, healthy) = (key(101), key(102))
        let rig = PollerRig([spec(101), spec(102)], settings: Self.settings(backoffCap: 120))
        rig.jitter.current = jitter
        rig.fetcher.fail(failing)
        rig.start()
        rig.run(for: 400)
        #expect(Array(rig.fetcher.gaps(failing).prefix(6)) == expected)
        #expect(Set(rig.fetcher.gaps(healthy)) == [10], "the healthy meter keeps its pace")
        #expect(rig.hub.state(of: failing)?.lastPollSucceeded == false)

        rig.fetcher.heal(failing)
        rig.run(for: 160)
        #expect(rig.hub.state(of: failing)?.lastPollSucceeded == true)
        let gaps = rig.fetcher.gaps(failing)
        #expect(gaps.suffix(3) == [10, 10, 10], "polled at its pace again after a success: \(gaps)")
        let polled = rig.fetcher.count(failing)
        rig.fetcher.fail(failing)
        rig.run(for: 60)
        let next = Array(rig.fetcher.gaps(failing).dropFirst(polled - 1).prefix(3))
        #expect(next == [10] + expected.prefix(2), "a new failure starts the back-off afresh: \(next)")
        await rig.stop()
    }

    @Test func aFailingMeterAtRestIsRetriedFromTheActiveInterval() async {
        let meter = key(102)
        let rig = PollerRig([spec(102)], settings: Self.settings(rest: 300), codes: [meter: 7])
        rig.jitter.current = 1
        rig.start()
        rig.run(for: 299)
        rig.fetcher.fail(meter)
        rig.run(for: 100)
        #expect(rig.fetcher.gaps(meter) == [300, 10, 20, 40], "its status is going stale: retried soon")
        await rig.stop()
    }
}
