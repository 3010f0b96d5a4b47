import Testing

@testable import MediationCore

/// The tracker's rules for callouts (`record(_:at:heardAt:maxDynamicMeters:)`) and how they meet polls:
/// each change counted once whichever source saw it, missed steps, retries and reordering, dynamic meters.
/// Polls alone are in `StatusTrackerTests`.
struct StatusTrackerCalloutTests {
    let a = key(101)

    func tracker(_ specs: [MeterSpec] = [spec(101)]) -> StatusTracker {
        var tracker = StatusTracker()
        _ = tracker.configure(specs)
        return tracker
    }

    func event(
        _ meter: MeterKey,
        _ previous: Int?,
        _ status: Int,
        session: String = "s1",
        runType: String = "NORMAL",
        name: String? = nil,
        duration: Double? = nil
    ) -> StatusEvent {
        StatusEvent(
            key: meter,
            meterName: name,
            sessionId: session,
            runType: runType,
            status: RunStatus(code: status),
            previousStatus: previous.map { RunStatus(code: $0) },
            sessionDuration: duration
        )
    }

    func counted(_ tracker: StatusTracker, _ meter: MeterKey) -> [String: UInt64] {
        Dictionary(
            uniqueKeysWithValues: (tracker.meters[meter]?.transitions ?? [:]).map {
                ("\($0.key.from)>\($0.key.to)", $0.value)
            }
        )
    }

    @Test func aCalloutThatFollowsTheKnownStatusCountsItsChange() throws {
        var tracker = tracker()
        _ = tracker.record(ok(a, 7, at: 10))
        let (changes, outcome) = tracker.record(event(a, 7, 5), at: 20, heardAt: 500, maxDynamicMeters: 10)
        #expect(outcome == .accepted)
        #expect(changes.transitions.map(\.transition) == [Transition(from: "COMPLETED", to: "RUNNING")])
        let state = try #require(tracker.meters[a])
        #expect(state.status?.code == 5)
        #expect(state.statusSince == 20)
        #expect(state.lastCalloutAt == 500)
    }

    @Test func aMissedStepIsCountedAsWellAsTheReportedOne() throws {
        // Known COMPLETED; the callout says RUNNING → FAILED: the run's start was missed.
        var tracker = tracker()
        _ = tracker.record(ok(a, 7, at: 10))
        let (changes, outcome) = tracker.record(event(a, 5, 8), at: 20, maxDynamicMeters: 10)
        #expect(outcome == .accepted)
        #expect(
            changes.transitions.map(\.transition) == [
                Transition(from: "COMPLETED", to: "RUNNING"), Transition(from: "RUNNING", to: "FAILED"),
            ]
        )
        #expect(counted(tracker, a) == ["COMPLETED>RUNNING": 1, "RUNNING>FAILED": 1])
        #expect(tracker.meters[a]?.failures == 1)
        #expect(tracker.meters[a]?.status?.code == 8)
    }

    @Test func aRetriedCalloutIsStaleAndCountsNothing() throws {
        var tracker = tracker()
        _ = tracker.record(ok(a, 7, at: 10))
        _ = tracker.record(event(a, 7, 5, duration: nil), at: 20, heardAt: 100, maxDynamicMeters: 10)
        let before = try #require(tracker.meters[a])
        let (changes, outcome) = tracker.record(event(a, 7, 5), at: 30, heardAt: 200, maxDynamicMeters: 10)
        #expect(outcome == .stale)
        #expect(changes.isEmpty && changes.transitions.isEmpty)
        let after = try #require(tracker.meters[a])
        #expect(after.transitions == before.transitions)
        #expect(after.statusSince == 20, "a retry does not move the status's start")
        #expect(after.lastCalloutAt == 200, "but it shows that callouts still arrive")
    }

    @Test func aLateCalloutForAStepAlreadyInferredIsStale() throws {
        // RUNNING → FAILED arrives before COMPLETED → RUNNING of the same session.
        var tracker = tracker()
        _ = tracker.record(ok(a, 7, at: 10))
        _ = tracker.record(event(a, 5, 8), at: 20, maxDynamicMeters: 10)
        let (changes, outcome) = tracker.record(event(a, 7, 5), at: 21, maxDynamicMeters: 10)
        #expect(outcome == .stale)
        #expect(changes.transitions.isEmpty)
        #expect(tracker.meters[a]?.status?.code == 8, "the late callout does not take the meter back to RUNNING")
        #expect(counted(tracker, a) == ["COMPLETED>RUNNING": 1, "RUNNING>FAILED": 1])
    }

    @Test func theSameStepInANewSessionIsANewRun() {
        var tracker = tracker()
        _ = tracker.record(event(a, 7, 5, session: "s1"), at: 10, maxDynamicMeters: 10)
        _ = tracker.record(event(a, 5, 7, session: "s1"), at: 20, maxDynamicMeters: 10)
        let (_, outcome) = tracker.record(event(a, 7, 5, session: "s2"), at: 30, maxDynamicMeters: 10)
        #expect(outcome == .accepted)
        #expect(counted(tracker, a) == ["COMPLETED>RUNNING": 2, "RUNNING>COMPLETED": 1])
    }

    @Test func aChangeSeenByAPollFirstIsNotCountedAgainByItsCallout() {
        var tracker = tracker()
        _ = tracker.record(ok(a, 7, at: 10))
        let poll = tracker.record(ok(a, 5, at: 20))
        #expect(poll.transitions.count == 1)
        let (changes, outcome) = tracker.record(event(a, 7, 5), at: 21, maxDynamicMeters: 10)
        #expect(outcome == .accepted, "nothing wrong with it: the poll was quicker")
        #expect(changes.transitions.isEmpty)
        #expect(counted(tracker, a) == ["COMPLETED>RUNNING": 1])
        #expect(tracker.meters[a]?.statusSince == 20, "the status started when the poll saw it")
    }

    @Test func aPollThatConfirmsAPushedStatusCountsNothing() throws {
        var tracker = tracker()
        _ = tracker.record(ok(a, 7, at: 10))
        _ = tracker.record(event(a, 7, 8), at: 20, maxDynamicMeters: 10)
        let poll = tracker.record(ok(a, 8, at: 30))
        #expect(poll.transitions.isEmpty)
        let state = try #require(tracker.meters[a])
        #expect(counted(tracker, a) == ["COMPLETED>FAILED": 1])
        #expect(state.failures == 1)
        #expect(state.statusSince == 20)
        #expect(state.lastPollSuccessAt == 30)
    }

    /// A poll sent before a callout and answered after it carries what Zuora said before the callout: the
    /// run's end is not undone, nor counted a second time when the next poll sees it again.
    @Test func aPollSentBeforeAnAppliedCalloutCannotMoveTheStatusBack() throws {
        var tracker = tracker()
        _ = tracker.configureRecords(SummaryConfig(enabled: true))
        _ = tracker.record(ok(a, 5, at: 10))
        _ = tracker.record(event(a, 5, 8), at: 20, heardAt: 120, maxDynamicMeters: 10)
        let late = tracker.record(PollOutcome(key: a, result: .status(RunStatus(code: 5)), at: 21, sentAt: 119))
        #expect(late.transitions.isEmpty)
        let afterLate = try #require(tracker.meters[a])
        #expect(afterLate.status?.code == 8)
        #expect(afterLate.lastPollSucceeded == true && afterLate.lastPollSuccessAt == 21, "the poll itself worked")
        let next = tracker.record(PollOutcome(key: a, result: .status(RunStatus(code: 8)), at: 30, sentAt: 130))
        #expect(next.transitions.isEmpty)
        #expect(counted(tracker, a) == ["RUNNING>FAILED": 1])
        #expect(tracker.meters[a]?.failures == 1)
        #expect(tracker.summaries.entries.count == 1, "one summary of the one run")
        // A poll sent after the callout is the newer word: a new run it sees counts.
        let newRun = tracker.record(PollOutcome(key: a, result: .status(RunStatus(code: 5)), at: 40, sentAt: 140))
        #expect(newRun.transitions.count == 1)
        #expect(counted(tracker, a) == ["RUNNING>FAILED": 1, "FAILED>RUNNING": 1])
    }

    @Test func aFirstObservationFromACalloutCountsTheChangeItAnnounces() throws {
        var tracker = tracker()
        let (changes, _) = tracker.record(event(a, 5, 8), at: 20, maxDynamicMeters: 10)
        #expect(changes.transitions.map(\.transition) == [Transition(from: "RUNNING", to: "FAILED")])
        #expect(tracker.meters[a]?.failures == 1)
        #expect(tracker.meters[a]?.statusSince == 20)
        // Without a previous status (or the same one), nothing was seen changing.
        for previous in [nil, 5] as [Int?] {
            var fresh = self.tracker()
            let (quiet, _) = fresh.record(event(a, previous, 5), at: 30, maxDynamicMeters: 10)
            #expect(quiet.transitions.isEmpty)
            #expect(fresh.meters[a]?.status?.code == 5)
            #expect(fresh.meters[a]?.statusSince == 30)
        }
    }

    @Test func anEndedSessionRecordsItsDurationByRunTypeOnce() throws {
        var tracker = tracker()
        _ = tracker.record(event(a, 7, 5), at: 10, maxDynamicMeters: 10)
        let (changes, _) = tracker.record(event(a, 5, 7, duration: 42.5), at: 52, maxDynamicMeters: 10)
        #expect(changes.endedSessions == [EndedSession(runType: "NORMAL", status: "COMPLETED", duration: 42.5)])
        let (_, _) = tracker.record(event(a, 7, 5, session: "d1", runType: "DEBUG"), at: 60, maxDynamicMeters: 10)
        _ = tracker.record(event(a, 5, 8, session: "d1", runType: "DEBUG", duration: 3), at: 63, maxDynamicMeters: 10)
        #expect(tracker.meters[a]?.lastSessionDuration == ["NORMAL": 42.5, "DEBUG": 3])
        let (retry, outcome) = tracker.record(event(a, 5, 7, duration: 42.5), at: 70, maxDynamicMeters: 10)
        #expect(outcome == .stale)
        #expect(retry.endedSessions.isEmpty, "a retried callout is not observed twice in the histogram")
    }

    @Test func unconfiguredMetersAreKeptUpToTheCapThenDropped() throws {
        var tracker = tracker()
        for id in [900, 901] as [Int64] {
            let (_, outcome) = tracker.record(event(key(id), nil, 5, name: "m\(id)"), at: 1, maxDynamicMeters: 2)
            #expect(outcome == .accepted)
        }
        let (changes, outcome) = tracker.record(event(key(902), nil, 5), at: 2, maxDynamicMeters: 2)
        #expect(outcome == .dropped)
        #expect(changes.isEmpty)
        #expect(tracker.meters[key(902)] == nil)
        #expect(tracker.record(event(key(900), 5, 7), at: 3, maxDynamicMeters: 2).1 == .accepted, "known: kept")
        #expect(tracker.record(event(a, 7, 5), at: 3, maxDynamicMeters: 0).1 == .accepted, "configured: never dropped")
        let dynamic = try #require(tracker.meters[key(900)])
        #expect(!dynamic.isConfigured)
        #expect(dynamic.displayName == "m900")
        #expect(tracker.configuredKeys == [a], "a meter known from callouts is not polled")
    }

    @Test func dynamicMetersNotHeardSinceTheCutoffExpireAndConfiguredOnesNever() {
        var tracker = tracker()
        _ = tracker.record(event(key(900), nil, 5), at: 1, heardAt: 100, maxDynamicMeters: 10)
        _ = tracker.record(event(key(901), nil, 5), at: 1, heardAt: 100, maxDynamicMeters: 10)
        _ = tracker.record(event(a, nil, 5), at: 1, heardAt: 100, maxDynamicMeters: 10)
        // A retry of 901's callout shows it is still alive.
        #expect(tracker.record(event(key(901), nil, 5), at: 2, heardAt: 300, maxDynamicMeters: 10).1 == .stale)
        let changes = tracker.expireDynamicMeters(notHeardSince: 200)
        #expect(changes.removed == [key(900)])
        #expect(Set(tracker.meters.keys) == [a, key(901)])
        #expect(tracker.expireDynamicMeters(notHeardSince: 300).isEmpty, "heard at the cutoff: kept")
        #expect(tracker.expireDynamicMeters(notHeardSince: 10_000).removed == [key(901)])
        #expect(tracker.meters[a] != nil, "configured meters never expire")
    }
}
