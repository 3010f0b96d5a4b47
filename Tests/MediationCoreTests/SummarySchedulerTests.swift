import ExpositionParser
import Synchronization
import Testing

@testable import MediationCore

/// The summary scheduler on a manual clock: once per session, one at a time, retries and give-up, and
/// that summaries never hold up or change polling.
struct SummarySchedulerTests {
    let a = key(101)

    func metric(_ rig: SummaryRig, _ name: String, _ labels: [String: String]) -> Double? {
        ParsedExposition(text(rig.hub.store.body())).value(name, meterLabels(a, labels))
    }

    @Test func anEndedRunIsSummarisedOnceAndShownOnMetrics() async {
        let rig = SummaryRig()
        rig.start()
        rig.end(a)
        rig.run(for: 1)
        #expect(rig.summaries.requests.count == 1)
        #expect(rig.summaries.requests.first?.run.status == "FAILED")
        #expect(metric(rig, "zuora_meter_last_session_records", ["outcome": "output"]) == 900)
        #expect(metric(rig, "zuora_meter_last_session_records", ["outcome": "error"]) == 50)
        #expect(metric(rig, "zuora_meter_records_total", ["outcome": "error"]) == 50)
        #expect(
            metric(rig, "zuora_meter_last_session_operator_records", ["operator_id": "op-read", "outcome": "error"])
                == 50
        )
        #expect(metric(rig, "zuora_meter_last_session_error_records", ["error_code": "E_PARSE"]) == 50)
        #expect(metric(rig, "zuora_meter_last_session_records_timestamp_seconds", [:]) == rig.rig.wall.now())
        rig.run(for: 600)
        #expect(rig.summaries.requests.count == 1, "once")
        await rig.stop()
    }

    @Test func aRunReportedByAPollAndACalloutIsAskedForOnceBySession() async {
        let rig = SummaryRig()
        rig.hub.record(ok(a, 5, at: 100))
        rig.hub.record(ok(a, 8, at: 130))
        let event = StatusEvent(
            key: a,
            meterName: nil,
            sessionId: "S-101-3",
            runType: "NORMAL",
            status: RunStatus(code: 8),
            previousStatus: RunStatus(code: 5),
            sessionDuration: nil
        )
        _ = rig.hub.record(event, maxDynamicMeters: 0)
        _ = rig.hub.record(event, maxDynamicMeters: 0)
        rig.start()
        rig.run(for: 600)
        #expect(rig.summaries.requests.map(\.run.sessionId) == ["S-101-3"])
        await rig.stop()
    }

    @Test func failuresAreRetriedAfter10And20And40SecondsThenSucceed() async {
        let rig = SummaryRig()
        rig.summaries.answer([
            ScriptedSummaries.failure(.serverError), ScriptedSummaries.failure(.decode),
            ScriptedSummaries.failure(.timeout), .summary(ScriptedSummaries.sample),
        ])
        rig.start()
        let start = rig.clock.now()
        rig.end(a)
        rig.run(for: 600)
        #expect(rig.summaries.times.map { $0 - start } == [0, 10, 30, 70])
        #expect(metric(rig, "zuora_meter_last_session_records", ["outcome": "output"]) == 900)
        #expect(rig.rig.metric("zuora_summaries_given_up_total", ["reason": "server_error"]) == 0)
        await rig.stop()
    }

    @Test func afterMaxAttemptsTheSummaryIsGivenUpAndCountedWithTheLastReason() async {
        let rig = SummaryRig(settings: SummaryConfig(enabled: true, maxAttempts: 10))
        rig.summaries.answer([ScriptedSummaries.failure(.serverError)] + [ScriptedSummaries.failure(.decode)])
        rig.start()
        let start = rig.clock.now()
        rig.end(a)
        rig.run(for: 3600)
        let gaps = zip(rig.summaries.times, rig.summaries.times.dropFirst()).map { $1 - $0 }
        #expect(gaps == [10, 20, 40, 80, 160, 300, 300, 300, 300], "doubling, capped at 5 minutes")
        #expect(rig.summaries.times.first == start)
        #expect(rig.rig.metric("zuora_summaries_given_up_total", ["reason": "decode"]) == 1)
        #expect(rig.rig.metric("zuora_summaries_given_up_total", ["reason": "server_error"]) == 0)
        #expect(metric(rig, "zuora_meter_last_session_records", ["outcome": "output"]) == nil)
        #expect(rig.hub.snapshot()[a]?.status?.code == 8, "the run status is untouched")
        await rig.stop()
    }

    @Test(arguments: [PollErrorReason.notFound, .badRequest])
    func answersThatCannotChangeAreGivenUpAtOnce(reason: PollErrorReason) async {
        let rig = SummaryRig()
        rig.summaries.answer([ScriptedSummaries.failure(reason)])
        rig.start()
        rig.end(a)
        rig.run(for: 600)
        #expect(rig.summaries.requests.count == 1)
        #expect(rig.rig.metric("zuora_summaries_given_up_total", ["reason": reason.rawValue]) == 1)
        await rig.stop()
    }

    @Test func oneSummaryAtATimeAndAHungOneNeverDelaysPolls() async {
        let specs = (101...104).map { spec(Int64($0)) }
        let rig = SummaryRig(specs)
        rig.summaries.hang = true
        rig.rig.start()
        rig.start()
        rig.run(for: 60)
        for id: Int64 in 101...104 { rig.rig.fetcher.set(key(id), code: 8) }
        rig.run(for: 600)
        #expect(rig.summaries.requests.count == 1, "the others wait behind the hung one")
        #expect(rig.summaries.maxInFlight == 1)
        for id: Int64 in 101...104 {
            #expect(rig.rig.fetcher.gaps(key(id)).allSatisfy { $0 == 30 }, "polls keep their interval")
            #expect(rig.hub.snapshot()[key(id)]?.status?.code == 8)
            #expect(rig.hub.snapshot()[key(id)]?.failures == 1)
        }
        await rig.stop()
        await rig.rig.stop()
    }

    @Test func stoppingCancelsAHungSummaryPromptlyAndKeepsItQueued() async {
        let rig = SummaryRig()
        rig.summaries.hang = true
        rig.start()
        rig.end(a)
        rig.run(for: 5)
        await rig.stop()
        #expect(rig.hub.withTracker { $0.summaries.entries.count } == 1)
        #expect(rig.hub.withTracker { $0.summaries.inFlight } == nil)
    }

    @Test func nothingGoesOutWhilePollingIsPausedForTheTenant() async {
        let rig = SummaryRig()
        rig.paused.current = true
        rig.start()
        rig.end(a)
        rig.run(for: 120)
        #expect(rig.summaries.requests.isEmpty)
        rig.paused.current = false
        rig.run(for: 2)
        #expect(rig.summaries.requests.count == 1)
        await rig.stop()
    }

    @Test func summariesOffSendNothing() async {
        let rig = SummaryRig(settings: SummaryConfig(enabled: false))
        rig.start()
        rig.end(a)
        rig.run(for: 600)
        #expect(rig.summaries.requests.isEmpty)
        await rig.stop()
    }

    @Test func withATightBudgetPollsKeepTheirStretchedRateAndSummariesWait() async {
        // 8 meters polled every 10 s want 48 a minute; the budget allows 20: stretched to about 25 s each.
        let budget = BudgetLimits(perMinute: 20)
        let specs = (101...108).map { spec(Int64($0)) }
        let clock = ManualClock()
        let zuora = BudgetedZuora(clock: clock, limits: budget, reserve: specs.count)
        let poll = PollSettings(
            plan: PollPlan(activeInterval: 10, restInterval: 10, budget: budget),
            maxConcurrency: 4
        )
        let withSummaries = BudgetRig(specs, poll: poll, zuora: zuora, clock: clock, summaries: true)
        withSummaries.run(for: 1200)
        let alone = BudgetRig(
            specs,
            poll: poll,
            zuora: BudgetedZuora(clock: ManualClock(), limits: budget, reserve: specs.count),
            clock: nil,
            summaries: false
        )
        alone.run(for: 1200)
        #expect(withSummaries.zuora.summaries > 0, "summaries go when there is room")
        #expect(withSummaries.zuora.polls == alone.zuora.polls, "polls keep their stretched rate")
        // The budget counts in one-second slots: a minute measured to the instant may hold one more.
        #expect(withSummaries.zuora.maxPerMinute <= 21)
        #expect(alone.zuora.maxPerMinute <= 21)
        await withSummaries.stop()
        await alone.stop()
    }
}

extension StatusHub {
    /// Reads the tracker (tests).
    func withTracker<T>(_ body: (StatusTracker) -> T) -> T {
        var result: T?
        apply { tracker in
            result = body(tracker)
            return TrackerChanges()
        }
        return result!
    }
}
