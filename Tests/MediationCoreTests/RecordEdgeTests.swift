import Testing

@testable import MediationCore

/// The record rules at their edges: snapshots of finished sessions, an operator named "other", a session id
/// that arrives for an older end, tenant-wide faults, summaries turned off and on, large answers.
struct RecordEdgeTests {
    let a = key(101)

    func tracker(maxOperators: Int = 20, maxAttempts: Int = 4) -> StatusTracker {
        var tracker = StatusTracker()
        _ = tracker.configure([spec(101)])
        _ = tracker.configureRecords(
            SummaryConfig(enabled: true, maxOperators: maxOperators, maxErrorCodes: 20, maxAttempts: maxAttempts)
        )
        return tracker
    }

    func snapshot(
        _ operatorId: String = "op-read",
        session: String = "S-1",
        startedAt: Double? = nil,
        endedAt: Double? = nil
    ) -> PeriodicEvent {
        PeriodicEvent(
            key: a,
            meterName: nil,
            operatorId: operatorId,
            sessionId: session,
            runType: "NORMAL",
            counts: SnapshotCounts(output: 10, error: 1, total: 11),
            startedAt: startedAt,
            endedAt: endedAt
        )
    }

    func periodic(_ tracker: inout StatusTracker, _ event: PeriodicEvent, at time: Double) -> EventOutcome {
        tracker.record(event, at: time, heardAt: time, maxDynamicMeters: 10).1
    }

    func statusCallout(_ previous: Int, _ status: Int, session: String) -> StatusEvent {
        StatusEvent(
            key: a,
            meterName: nil,
            sessionId: session,
            runType: "NORMAL",
            status: RunStatus(code: status),
            previousStatus: RunStatus(code: previous),
            sessionDuration: nil
        )
    }

    @Test func aSnapshotThatSaysItsSessionEndedShowsNothingAndItsIdIsNeverTheNextRunsSession() {
        var tracker = tracker()
        _ = tracker.record(ok(a, 5, at: 100))
        #expect(periodic(&tracker, snapshot(session: "S-1"), at: 110) == .accepted)
        #expect(tracker.meters[a]?.records.running?.sessionId == "S-1")
        // The same session's last snapshot, with its end: the series go.
        #expect(periodic(&tracker, snapshot(session: "S-1", endedAt: 115), at: 116) == .stale)
        #expect(tracker.meters[a]?.records.running == nil)
        // A poll then sees the end, the next run starts and ends: asked by window, not as S-1.
        _ = tracker.record(ok(a, 7, at: 130))
        _ = tracker.record(ok(a, 5, at: 160))
        let changes = tracker.record(ok(a, 8, at: 190))
        #expect(changes.endedRuns.map(\.sessionId) == [nil])
    }

    @Test func aLateSnapshotOfASessionOlderThanTheCurrentRestIsIgnored() {
        var tracker = tracker()
        _ = tracker.record(ok(a, 5, at: 1000))
        _ = tracker.record(ok(a, 7, at: 1030))  // COMPLETED at 1030, by poll: its session id was never heard
        #expect(periodic(&tracker, snapshot(session: "S-old", startedAt: 900), at: 1040) == .stale)
        #expect(tracker.meters[a]?.records.running == nil, "no series of a finished session")
        // The next run, seen by polls, is not taken for S-old.
        _ = tracker.record(ok(a, 5, at: 1060))
        #expect(tracker.record(ok(a, 8, at: 1090)).endedRuns.map(\.sessionId) == [nil])
    }

    @Test func aSnapshotOfAnOlderSessionDoesNotReplaceTheRunningOnes() {
        var tracker = tracker()
        _ = tracker.record(ok(a, 5, at: 100))
        #expect(periodic(&tracker, snapshot(session: "S-2", startedAt: 90), at: 110) == .accepted)
        #expect(periodic(&tracker, snapshot(session: "S-1", startedAt: 10), at: 111) == .stale)
        #expect(tracker.meters[a]?.records.running?.sessionId == "S-2")
    }

    @Test func runTypesAndTimesNobodyDocumentedAreAcceptedNotRefused() throws {
        let body = #"{"meterId":101,"sessionId":"s","runType":"FAST","startTime":"yesterday","outputCount":3}"#
        let event = try PeriodicBody.parse(Array(body.utf8)).get()
        #expect(event.counts.output == 3 && event.startedAt == nil && event.endedAt == nil)
    }

    @Test func anOperatorNamedOtherJoinsTheOtherSumInsteadOfASecondSeries() throws {
        var tracker = tracker(maxOperators: 2)
        _ = tracker.record(ok(a, 5, at: 100))
        for name in ["op-1", "other", "op-2"] { _ = periodic(&tracker, snapshot(name), at: 110) }
        let running = try #require(tracker.meters[a]?.records.running)
        #expect(Set(running.operators.keys) == ["op-1", "op-2"])
        #expect(running.hasOther && running.other == SnapshotCounts(output: 10, error: 1, total: 11))
    }

    @Test func aSessionIdGoesToTheEndItNamesNotToAnOlderRunStillWaiting() {
        var tracker = tracker()
        // Run 1 ends (poll), its summary fails once and waits for a retry.
        _ = tracker.record(ok(a, 5, at: 100))
        _ = tracker.record(ok(a, 8, at: 130))
        guard case .send(let first) = tracker.nextSummary(now: 130) else {
            Issue.record("run 1 is not sent")
            return
        }
        _ = tracker.finishSummary(first, .failure(.serverError, message: "500", scope: .meter), now: 130, takenAt: 0)
        // Run 2 ends (poll) and its callout comes: the id belongs to run 2's end only.
        _ = tracker.record(ok(a, 5, at: 160))
        _ = tracker.record(ok(a, 7, at: 190))
        _ = tracker.record(statusCallout(5, 7, session: "S-2"), at: 191, heardAt: 191, maxDynamicMeters: 10)
        let waiting = tracker.summaries.entries.map { ($0.run.windowEnd, $0.run.sessionId) }
        #expect(waiting.map(\.0) == [130, 190])
        #expect(waiting.map(\.1) == [nil, "S-2"])
    }

    @Test func tenantWideFaultsDoNotUseUpASummarysAttempts() {
        var tracker = tracker(maxAttempts: 1)
        _ = tracker.record(ok(a, 5, at: 100))
        _ = tracker.record(ok(a, 8, at: 130))
        for now in [130.0, 140, 150] {
            guard case .send(let entry) = tracker.nextSummary(now: now) else {
                Issue.record("not sent at \(now)")
                return
            }
            let (_, finish) = tracker.finishSummary(
                entry,
                .failure(.network, message: "Zuora unreachable", scope: .tenant),
                now: now,
                takenAt: 0
            )
            #expect(finish == .retry(at: now + 10), "tried again later, attempts untouched")
        }
        guard case .send(let entry) = tracker.nextSummary(now: 160) else {
            Issue.record("not sent after the outage")
            return
        }
        let (_, finish) = tracker.finishSummary(
            entry,
            .failure(.serverError, message: "500", scope: .meter),
            now: 160,
            takenAt: 0
        )
        #expect(finish == .gaveUp(reason: .serverError, message: "500", attempts: 1))
    }

    @Test func summariesTurnedOffAndOnNeverReuseTheIdOfAnAttemptInFlight() {
        var tracker = tracker()
        _ = tracker.record(ok(a, 5, at: 100))
        _ = tracker.record(ok(a, 8, at: 130))
        guard case .send(let inFlight) = tracker.nextSummary(now: 130) else {
            Issue.record("not sent")
            return
        }
        _ = tracker.configureRecords(SummaryConfig(enabled: false))
        _ = tracker.configureRecords(SummaryConfig(enabled: true))
        _ = tracker.record(ok(a, 5, at: 160))
        _ = tracker.record(ok(a, 8, at: 190))
        #expect(tracker.summaries.entries.map(\.id) != [inFlight.id])
        // The old attempt's answer finds nothing to finish.
        let (_, finish) = tracker.finishSummary(inFlight, .summary(SessionSummary()), now: 191, takenAt: 0)
        #expect(finish == nil && tracker.summaries.entries.count == 1)
    }

    @Test func aLargeSummaryIsBoundedBeforeTheTracker() {
        var operators: [String: RecordCounts] = [:]
        for index in 0..<50_000 { operators["op-\(index)"] = RecordCounts(output: UInt64(index), error: 1) }
        let summary = SessionSummary(total: RecordCounts(output: 1, error: 2), operators: operators)
        let bounded = summary.bounded(maxOperators: 20, maxErrorCodes: 20)
        #expect(bounded.operators.count == 21 && bounded.operators["op-49999"] != nil)
        let sum = bounded.operators.values.reduce(RecordCounts()) { $0 + $1 }
        #expect(sum == operators.values.reduce(RecordCounts()) { $0 + $1 }, "other holds the rest")
    }
}
