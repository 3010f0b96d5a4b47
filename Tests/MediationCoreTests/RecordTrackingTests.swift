import ExpositionParser
import Testing

@testable import MediationCore

/// Which ended runs ask for a summary (once per session, whatever mix of polls and callouts reports the
/// end), their windows and sessions, and the running sessions' periodic snapshots.
struct RecordTrackingTests {
    let a = key(101)

    func tracker(
        _ specs: [MeterSpec] = [spec(101)],
        summaries: SummaryConfig = SummaryConfig(enabled: true)
    )
        -> StatusTracker
    {
        var tracker = StatusTracker()
        _ = tracker.configure(specs)
        _ = tracker.configureRecords(summaries)
        return tracker
    }

    func event(_ meter: MeterKey, _ previous: Int?, _ status: Int, session: String = "S-1") -> StatusEvent {
        StatusEvent(
            key: meter,
            meterName: nil,
            sessionId: session,
            runType: "NORMAL",
            status: RunStatus(code: status),
            previousStatus: previous.map { RunStatus(code: $0) },
            sessionDuration: nil
        )
    }

    func snapshot(
        _ meter: MeterKey,
        _ operatorId: String,
        output: UInt64,
        error: UInt64 = 0,
        session: String = "S-1"
    )
        -> PeriodicEvent
    {
        PeriodicEvent(
            key: meter,
            meterName: nil,
            operatorId: operatorId,
            sessionId: session,
            runType: "NORMAL",
            counts: SnapshotCounts(output: output, error: error, total: output + error)
        )
    }

    @discardableResult
    func callout(_ tracker: inout StatusTracker, _ event: StatusEvent, at time: Double) -> TrackerChanges {
        tracker.record(event, at: time, heardAt: time, maxDynamicMeters: 10).0
    }

    /// With summaries on, every meter-version's record counter is there from 0, so that `increase()` over
    /// it counts the first summarised session too; with them off there is no such series.
    @Test func theRecordCounterIsShownFromZeroWhileSummariesAreOn() {
        let hub = StatusHub()
        hub.configure([spec(101)])
        func total(_ meter: MeterKey) -> Double? {
            ParsedExposition(text(hub.store.body()))
                .value("zuora_meter_records_total", meterLabels(meter, ["outcome": "output"]))
        }
        #expect(total(a) == nil)
        hub.apply { $0.configureRecords(SummaryConfig(enabled: true)) }
        #expect(total(a) == 0)
        hub.configure([spec(101), spec(102)])
        #expect(total(key(102)) == 0, "configured later")
        _ = hub.record(event(key(900), 5, 8), maxDynamicMeters: 10)
        #expect(total(key(900)) == 0, "known from a callout")
        hub.apply { $0.configureRecords(SummaryConfig(enabled: false)) }
        #expect([a, key(102), key(900)].allSatisfy { total($0) == nil })
    }

    // MARK: - Ended runs

    /// A poll sees a start up to one interval late: the window opens at the last poll that saw the rest.
    @Test func aPollSeeingTheEndAsksForTheWindowFromTheLastPollBeforeTheRunWasSeenActive() {
        var tracker = tracker()
        _ = tracker.record(ok(a, 7, at: 100))
        _ = tracker.record(ok(a, 7, at: 130))
        _ = tracker.record(ok(a, 10, at: 160))  // INITIALIZING: the run is seen starting
        _ = tracker.record(ok(a, 5, at: 190))
        let changes = tracker.record(ok(a, 8, at: 220))
        #expect(
            changes.endedRuns == [
                EndedRun(key: a, status: "FAILED", sessionId: nil, windowStart: 130, windowEnd: 220)
            ]
        )
        #expect(tracker.summaries.entries.map(\.run) == changes.endedRuns)
    }

    @Test func aRunThatStartedAndEndedBetweenTwoPollsUsesTheLastTimeTheRestWasSeen() {
        var tracker = tracker()
        _ = tracker.record(ok(a, 7, at: 100))
        _ = tracker.record(ok(a, 7, at: 400))
        let changes = tracker.record(ok(a, 8, at: 700))
        #expect(changes.endedRuns.map(\.windowStart) == [400])
        #expect(changes.endedRuns.map(\.windowEnd) == [700])
    }

    @Test(arguments: [3, 4, 7, 8, 9])
    func everyEndedStatusAsksOnce(code: Int) {
        var tracker = tracker()
        _ = tracker.record(ok(a, 5, at: 100))
        #expect(tracker.record(ok(a, code, at: 130)).endedRuns.count == 1)
        #expect(tracker.record(ok(a, code, at: 160)).endedRuns.isEmpty, "the same status again is no new end")
    }

    @Test(arguments: [1, 2, 5, 6, 10, 11, 12, 13, 99])
    func otherStatusesAskNothing(code: Int) {
        var tracker = tracker()
        _ = tracker.record(ok(a, code == 5 ? 10 : 5, at: 100))
        #expect(tracker.record(ok(a, code, at: 130)).endedRuns.isEmpty)
    }

    @Test func theFirstObservationIsNotAnEntry() {
        var tracker = tracker()
        #expect(tracker.record(ok(a, 8, at: 100)).endedRuns.isEmpty, "FAILED before the exporter looked")
        let (changes, _) = tracker.record(event(a, nil, 8), at: 110, heardAt: 110, maxDynamicMeters: 10)
        #expect(changes.endedRuns.isEmpty)
        #expect(tracker.summaries.isEmpty)
    }

    @Test func stateRestoredAfterARestartIsNotAnEntry() {
        var before = tracker()
        _ = before.record(ok(a, 5, at: 100))
        _ = before.record(ok(a, 8, at: 130))
        let saved = before.snapshot(monotonicNow: 0)
        var after = tracker()
        _ = after.restore(saved, monotonicNow: 0, maxDynamicMeters: 0) { _ in false }
        #expect(after.record(ok(a, 8, at: 200)).endedRuns.isEmpty)
        #expect(after.summaries.isEmpty)
    }

    @Test func aCalloutSeeingTheEndFirstNamesTheSessionAndThePollAddsNothing() {
        var tracker = tracker()
        _ = tracker.record(ok(a, 5, at: 100))
        let changes = callout(&tracker, event(a, 5, 8, session: "S-9"), at: 120)
        #expect(changes.endedRuns.map(\.sessionId) == ["S-9"])
        #expect(tracker.record(ok(a, 8, at: 130)).endedRuns.isEmpty)
        #expect(tracker.summaries.entries.count == 1)
    }

    @Test func aCalloutAfterThePollAddsItsSessionToThePendingSummaryOnly() {
        var tracker = tracker()
        _ = tracker.record(ok(a, 5, at: 100))
        _ = tracker.record(ok(a, 8, at: 130))
        let changes = callout(&tracker, event(a, 5, 8, session: "S-9"), at: 131)
        #expect(changes.endedRuns.isEmpty, "no second summary")
        #expect(changes.sessionsIdentified.map(\.sessionId) == ["S-9"])
        #expect(tracker.summaries.entries.map(\.run.sessionId) == ["S-9"])
        // Its retry (another notification id) and a poll change nothing more.
        #expect(callout(&tracker, event(a, 5, 8, session: "S-9"), at: 140).sessionsIdentified.isEmpty)
        #expect(tracker.record(ok(a, 8, at: 160)).endedRuns.isEmpty)
        #expect(tracker.summaries.entries.count == 1)
    }

    @Test func aPollUsesTheSessionAStartCalloutNamed() {
        var tracker = tracker()
        _ = tracker.record(ok(a, 7, at: 100))
        callout(&tracker, event(a, 10, 5, session: "S-3"), at: 110)
        #expect(tracker.record(ok(a, 7, at: 400)).endedRuns.map(\.sessionId) == ["S-3"])
        // The end callout arriving later is that session's: nothing more.
        let late = callout(&tracker, event(a, 5, 7, session: "S-3"), at: 410)
        #expect(late.endedRuns.isEmpty && late.sessionsIdentified.isEmpty)
    }

    @Test func aLateCalloutOfAnEndedSessionDoesNotLeadToASecondSummary() {
        var tracker = tracker()
        _ = tracker.record(ok(a, 5, at: 100))
        callout(&tracker, event(a, 5, 8, session: "S-1"), at: 120)
        // Reordered: the session's RUNNING callout arrives after its end, then a poll sees FAILED again.
        callout(&tracker, event(a, 10, 5, session: "S-1"), at: 121)
        #expect(tracker.record(ok(a, 8, at: 150)).endedRuns.isEmpty)
        #expect(tracker.summaries.entries.count == 1)
    }

    @Test func aNewSessionEndingInTheSameStatusAsksAgain() {
        var tracker = tracker()
        _ = tracker.record(ok(a, 5, at: 100))
        callout(&tracker, event(a, 5, 7, session: "S-1"), at: 120)
        // S-2 ran unseen between two polls; only its end callout arrives.
        let changes = callout(&tracker, event(a, 5, 7, session: "S-2"), at: 900)
        #expect(changes.endedRuns.map(\.sessionId) == ["S-2"])
        // Without a previous status the callout says only "S-3 is COMPLETED": a session not summarised yet.
        #expect(callout(&tracker, event(a, nil, 7, session: "S-3"), at: 1000).endedRuns.map(\.sessionId) == ["S-3"])
        #expect(tracker.summaries.entries.map(\.run.sessionId) == ["S-1", "S-2", "S-3"])
    }

    @Test func summariesOffReportEndsButQueueNothing() {
        var tracker = tracker(summaries: SummaryConfig(enabled: false))
        _ = tracker.record(ok(a, 5, at: 100))
        #expect(tracker.record(ok(a, 8, at: 130)).endedRuns.count == 1)
        #expect(tracker.summaries.isEmpty)
    }

    @Test func removedMetersLeaveTheQueue() {
        var tracker = tracker([spec(101), spec(102)])
        for id: Int64 in [101, 102] {
            _ = tracker.record(ok(key(id), 5, at: 100))
            _ = tracker.record(ok(key(id), 8, at: 130))
        }
        _ = tracker.configure([spec(102)])
        #expect(tracker.summaries.entries.map(\.run.key) == [key(102)])
    }

    // MARK: - Summaries received

    @Test func aSummaryBecomesTheLastSessionBoundedAndAddsToTheTotals() throws {
        var tracker = tracker(summaries: SummaryConfig(enabled: true, maxOperators: 2, maxErrorCodes: 1))
        var summary = SessionSummary()
        summary.add(operatorId: "op-a", errorCode: nil, counts: RecordCounts(output: 100))
        summary.add(operatorId: "op-b", errorCode: "E1", counts: RecordCounts(output: 50, error: 5))
        summary.add(operatorId: "op-c", errorCode: "E2", counts: RecordCounts(output: 1, error: 2))
        summary.add(operatorId: "op-d", errorCode: "E2", counts: RecordCounts(output: 1, error: 1))
        for round in 1...2 {
            _ = tracker.record(ok(a, 5, at: Double(round * 100)))
            _ = tracker.record(ok(a, 8, at: Double(round * 100 + 50)))
            guard case .send(let entry) = tracker.nextSummary(now: 0) else {
                Issue.record("nothing to send")
                return
            }
            let (changes, finish) = tracker.finishSummary(entry, .summary(summary), now: 0, takenAt: 5000)
            #expect(finish == .done)
            #expect(changes.updated == [a])
        }
        let records = try #require(tracker.meters[a]?.records)
        let last = try #require(records.lastSession)
        #expect(last.total == RecordCounts(output: 152, error: 8))
        #expect(
            last.operators == [
                "op-a": RecordCounts(output: 100), "op-b": RecordCounts(output: 50, error: 5),
                "other": RecordCounts(output: 2, error: 3),
            ]
        )
        #expect(last.errorCodes == ["E1": 5, "other": 3], "E2 (3) loses to E1 (5)")
        #expect(last.takenAt == 5000)
        #expect(records.total == RecordCounts(output: 304, error: 16), "summed over both sessions")

        _ = tracker.configureRecords(SummaryConfig(enabled: true, maxOperators: 1, maxErrorCodes: 1))
        #expect(tracker.meters[a]?.records.lastSession?.operators.count == 2, "a lower limit applies at once")
    }

    // MARK: - Periodic snapshots

    @Test func snapshotsKeepEachOperatorsLatestCountsAndVanishWhenThePollSeesTheEnd() throws {
        var tracker = tracker()
        _ = tracker.record(ok(a, 5, at: 100))
        _ = tracker.record(snapshot(a, "op-read", output: 10), at: 200, maxDynamicMeters: 0)
        _ = tracker.record(snapshot(a, "op-read", output: 30, error: 2), at: 300, maxDynamicMeters: 0)
        _ = tracker.record(snapshot(a, "op-write", output: 5), at: 310, maxDynamicMeters: 0)
        let running = try #require(tracker.meters[a]?.records.running)
        #expect(running.operators["op-read"] == SnapshotCounts(output: 30, error: 2, total: 32))
        #expect(running.operators["op-write"] == SnapshotCounts(output: 5, total: 5))
        #expect(running.updatedAt == 310)
        #expect(!running.hasOther)
        _ = tracker.record(ok(a, 7, at: 400))
        #expect(tracker.meters[a]?.records.running == nil)
    }

    @Test func aStatusCalloutOfTheEndClearsTheSnapshotAndLateSnapshotsAreIgnored() {
        var tracker = tracker()
        _ = tracker.record(ok(a, 5, at: 100))
        _ = tracker.record(snapshot(a, "op-read", output: 10), at: 200, maxDynamicMeters: 0)
        callout(&tracker, event(a, 5, 9, session: "S-1"), at: 300)
        #expect(tracker.meters[a]?.records.running == nil)
        let (_, outcome) = tracker.record(snapshot(a, "op-read", output: 11), at: 301, maxDynamicMeters: 0)
        #expect(outcome == .stale)
        #expect(tracker.meters[a]?.records.running == nil)
    }

    @Test func aNewSessionsSnapshotReplacesTheOldOne() {
        var tracker = tracker()
        _ = tracker.record(snapshot(a, "op-read", output: 10, session: "S-1"), at: 200, maxDynamicMeters: 0)
        _ = tracker.record(snapshot(a, "op-new", output: 1, session: "S-2"), at: 300, maxDynamicMeters: 0)
        #expect(tracker.meters[a]?.records.running?.operators.keys.sorted() == ["op-new"])
    }

    @Test func tenThousandHostileOperatorsStayWithinTheLimitAndOtherIsRight() throws {
        var tracker = tracker(summaries: SummaryConfig(maxOperators: 20))
        for round in 1...2 {
            for index in 0..<10_000 {
                let id = "op-\(index)-" + String(repeating: "x", count: 100)
                _ = tracker.record(
                    snapshot(a, id, output: UInt64(round), error: 0),
                    at: Double(round),
                    maxDynamicMeters: 0
                )
            }
        }
        let running = try #require(tracker.meters[a]?.records.running)
        #expect(running.operators.count == 20)
        #expect(running.hasOther)
        // The remembered overflow operators count with their latest snapshot (2 each), once.
        #expect(running.other.output == UInt64(RunningSnapshot.overflowMemory) * 2)
        let rendered = text(MetricStore().render(a, try #require(tracker.meters[a])).bytes)
        let operatorIds = Set(
            rendered.split(separator: "\n").filter { $0.hasPrefix("zuora_meter_session_operator_records{") }.compactMap
            {
                $0.split(separator: "operator_id=\"").last?.split(separator: "\"").first
            }
        )
        #expect(operatorIds.count == 21, "20 operators and other")
    }

    @Test func snapshotsOfUnconfiguredMetersFollowTheDynamicMeterRules() {
        var tracker = tracker()
        let (_, first) = tracker.record(snapshot(key(900), "op", output: 1), at: 1, heardAt: 50, maxDynamicMeters: 1)
        #expect(first == .accepted)
        #expect(tracker.meters[key(900)]?.isConfigured == false)
        let (_, second) = tracker.record(snapshot(key(901), "op", output: 1), at: 1, heardAt: 50, maxDynamicMeters: 1)
        #expect(second == .dropped)
        #expect(tracker.meters[key(901)] == nil)
        #expect(tracker.expireDynamicMeters(notHeardSince: 51).removed == [key(900)])
    }
}
