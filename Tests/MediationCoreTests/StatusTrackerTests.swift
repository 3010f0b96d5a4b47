import Testing

@testable import MediationCore

/// The tracker's rules as the README states them: first observation, transitions, failures, poll health.
struct StatusTrackerTests {
    static let codes = Array(1...13) + [42]
    let a = key(101)
    let b = key(202, "1.0")

    func tracker(_ specs: [MeterSpec]) -> StatusTracker {
        var tracker = StatusTracker()
        _ = tracker.configure(specs)
        return tracker
    }

    @Test(arguments: codes + [0, 14, 99, -1])
    func firstObservationSetsTheStatusWithoutCountingATransition(code: Int) throws {
        var tracker = tracker([spec(101)])
        let changes = tracker.record(ok(a, code, at: 100))
        let state = try #require(tracker.meters[a])
        #expect(state.status?.code == code)
        #expect(state.status?.name == expectedName(code))
        #expect(state.statusSince == 100)
        #expect(state.transitions.isEmpty)
        #expect(state.failures == 0, "nobody saw it enter this status")
        #expect(state.lastPollSucceeded == true)
        #expect(state.lastPollSuccessAt == 100)
        #expect(changes.transitions.isEmpty)
        #expect(changes.updated == [a])
        #expect(changes.pollHealth.isEmpty, "a first success is not a recovery")
    }

    @Test(arguments: codes, codes)
    func aLaterPollCountsExactlyTheChangeItSees(from: Int, to: Int) throws {
        var tracker = tracker([spec(101)])
        _ = tracker.record(ok(a, from, at: 100))
        let changes = tracker.record(ok(a, to, at: 130))
        let state = try #require(tracker.meters[a])
        #expect(state.status?.code == to)
        let entersFailure = to == 3 || to == 8
        if from == to {
            #expect(state.transitions.isEmpty)
            #expect(changes.transitions.isEmpty)
            #expect(state.statusSince == 100, "an unchanged status keeps its start time")
            #expect(state.failures == 0)
        } else {
            let expected = Transition(from: expectedName(from), to: expectedName(to))
            #expect(state.transitions == [expected: 1])
            #expect(changes.transitions.map(\.transition) == [expected])
            #expect(changes.transitions.map(\.key) == [a])
            #expect(state.statusSince == 130)
            #expect(state.failures == (entersFailure ? 1 : 0))
        }
    }

    @Test func theSameCodeAgainCountsNothing() throws {
        var tracker = tracker([spec(101)])
        _ = tracker.record(ok(a, 5, at: 1))
        _ = tracker.record(ok(a, 7, at: 2))
        for time in 3...6 {
            let changes = tracker.record(ok(a, 7, at: Double(time)))
            #expect(changes.transitions.isEmpty)
        }
        let state = try #require(tracker.meters[a])
        #expect(state.transitions == [Transition(from: "RUNNING", to: "COMPLETED"): 1])
        #expect(state.statusSince == 2)
        #expect(state.lastPollSuccessAt == 6)
    }

    @Test func reenteringAFailureStatusCountsAgain() throws {
        var tracker = tracker([spec(101)])
        for (time, code) in [5, 8, 5, 8, 8, 3, 4, 3].enumerated() {
            _ = tracker.record(ok(a, code, at: Double(time)))
        }
        let state = try #require(tracker.meters[a])
        #expect(state.failures == 4, "FAILED twice, TESTING_FAILED from FAILED, and TESTING_FAILED again")
        #expect(state.transitions[Transition(from: "RUNNING", to: "FAILED")] == 2)
        #expect(state.transitions[Transition(from: "FAILED", to: "RUNNING")] == 1)
        #expect(state.transitions[Transition(from: "FAILED", to: "TESTING_FAILED")] == 1)
        #expect(state.transitions[Transition(from: "TESTING_PASSED", to: "TESTING_FAILED")] == 1)
        #expect(state.transitions.values.reduce(0, +) == 6)
    }

    @Test(arguments: [0, 14, 99, -1])
    func unknownCodesAreNamedUnknownAndKeepTheirInteger(code: Int) throws {
        var tracker = tracker([spec(101)])
        _ = tracker.record(ok(a, 5, at: 1))
        _ = tracker.record(ok(a, code, at: 2))
        _ = tracker.record(ok(a, 7, at: 3))
        let state = try #require(tracker.meters[a])
        #expect(state.transitions[Transition(from: "RUNNING", to: "UNKNOWN")] == 1)
        #expect(state.transitions[Transition(from: "UNKNOWN", to: "COMPLETED")] == 1)
        #expect(state.failures == 0)
    }

    @Test func twoDifferentUnknownCodesCountAnUnknownToUnknownTransition() throws {
        var tracker = tracker([spec(101)])
        _ = tracker.record(ok(a, 14, at: 1))
        let changes = tracker.record(ok(a, 99, at: 2))
        _ = tracker.record(ok(a, 99, at: 3))
        let state = try #require(tracker.meters[a])
        #expect(state.status?.code == 99)
        #expect(state.transitions == [Transition(from: "UNKNOWN", to: "UNKNOWN"): 1])
        #expect(changes.transitions.count == 1)
        #expect(state.statusSince == 2)
    }

    @Test func aFailedPollKeepsTheStatusAndCountsTheErrorForThatMeterOnly() throws {
        var tracker = tracker([spec(101), spec(202, "1.0")])
        _ = tracker.record(ok(a, 5, at: 10))
        _ = tracker.record(ok(b, 7, at: 11))
        let other = tracker.meters[b]
        let changes = tracker.record(failed(a, .timeout, "no answer in 10s", at: 20))
        let state = try #require(tracker.meters[a])
        #expect(state.status?.code == 5)
        #expect(state.statusSince == 10)
        #expect(state.lastPollSucceeded == false)
        #expect(state.lastPollAt == 20)
        #expect(state.lastPollSuccessAt == 10)
        #expect(state.pollErrors == [.timeout: 1])
        #expect(state.lastError?.contains("timeout") == true)
        #expect(state.lastError?.contains("no answer in 10s") == true)
        #expect(state.transitions.isEmpty)
        #expect(tracker.meters[b] == other, "the other meter is unaffected")
        #expect(changes.updated == [a])
        #expect(changes.transitions.isEmpty)
    }

    @Test func errorsAreCountedByReason() throws {
        var tracker = tracker([spec(101)])
        let reasons: [PollErrorReason] = [.auth, .auth, .serverError, .rateLimited, .auth, .decode]
        for (time, reason) in reasons.enumerated() { _ = tracker.record(failed(a, reason, at: Double(time))) }
        let state = try #require(tracker.meters[a])
        #expect(state.pollErrors == [.auth: 3, .serverError: 1, .rateLimited: 1, .decode: 1])
        #expect(state.status == nil, "failures never invent a status")
        #expect(state.lastError?.hasPrefix("decode") == true, "the last error is the latest one")
    }

    @Test func aSuccessAfterAFailureClearsTheError() throws {
        var tracker = tracker([spec(101)])
        _ = tracker.record(ok(a, 5, at: 1))
        _ = tracker.record(failed(a, .network, "connection refused", at: 2))
        #expect(tracker.meters[a]?.lastError != nil)
        _ = tracker.record(ok(a, 5, at: 3))
        let state = try #require(tracker.meters[a])
        #expect(state.lastError == nil)
        #expect(state.lastPollSucceeded == true)
        #expect(state.lastPollSuccessAt == 3)
        #expect(state.pollErrors == [.network: 1], "the error counter is not reset")
        #expect(state.transitions.isEmpty)
    }

    @Test func pollHealthIsReportedOnlyWhenSuccessFlips() {
        var tracker = tracker([spec(101)])
        let sequence: [(PollOutcome, [Bool])] = [
            (ok(a, 5, at: 1), []),
            (ok(a, 5, at: 2), []),
            (failed(a, .auth, at: 3), [false]),
            (failed(a, .timeout, at: 4), []),
            (ok(a, 5, at: 5), [true]),
            (ok(a, 6, at: 6), []),
            (failed(a, .decode, at: 7), [false]),
        ]
        for (index, (poll, expected)) in sequence.enumerated() {
            let changes = tracker.record(poll)
            #expect(changes.pollHealth.map(\.succeeded) == expected, "step \(index)")
            #expect(changes.pollHealth.allSatisfy { $0.key == a })
        }
    }

    @Test func aFirstPollThatFailsIsReported() {
        var tracker = tracker([spec(101)])
        let changes = tracker.record(failed(a, .notFound, at: 1))
        #expect(changes.pollHealth.map(\.succeeded) == [false])
        #expect(tracker.meters[a]?.lastPollSucceeded == false)
        let recovered = tracker.record(ok(a, 1, at: 2))
        #expect(recovered.pollHealth.map(\.succeeded) == [true])
    }

    @Test func configureAddsRemovesAndRenamesAndKeepsTheStateOfKeptMeters() throws {
        var tracker = tracker([spec(101, name: "old"), spec(202, "1.0"), spec(303)])
        _ = tracker.record(ok(a, 5, at: 1))
        _ = tracker.record(ok(a, 8, at: 2))
        _ = tracker.record(ok(b, 7, at: 3))
        let keptB = try #require(tracker.meters[b])
        let changes = tracker.configure([spec(101, name: "new"), spec(202, "1.0"), spec(404)])
        #expect(changes.removed == [key(303)])
        #expect(changes.updated == [a, key(404)], "renamed and added; the unchanged one is not re-rendered")
        #expect(Set(tracker.meters.keys) == [a, b, key(404)])
        let renamed = try #require(tracker.meters[a])
        #expect(renamed.displayName == "new")
        #expect(renamed.status?.code == 8)
        #expect(renamed.failures == 1)
        #expect(renamed.transitions == [Transition(from: "RUNNING", to: "FAILED"): 1])
        #expect(tracker.meters[b] == keptB)
        let added = try #require(tracker.meters[key(404)])
        #expect(added.status == nil)
        #expect(added.lastPollSucceeded == nil)
        #expect(tracker.configuredKeys == [a, b, key(404)])
        #expect(tracker.configure([spec(101, name: "new"), spec(202, "1.0"), spec(404)]).isEmpty)
    }

    @Test func aRemovedAndReaddedMeterStartsAfresh() throws {
        var tracker = tracker([spec(101)])
        _ = tracker.record(ok(a, 5, at: 1))
        _ = tracker.record(ok(a, 8, at: 2))
        _ = tracker.configure([])
        #expect(tracker.meters.isEmpty)
        _ = tracker.configure([spec(101)])
        let state = try #require(tracker.meters[a])
        #expect(state.status == nil)
        #expect(state.failures == 0)
        #expect(state.transitions.isEmpty)
    }

    @Test func pollsOfUnconfiguredMetersAreIgnored() {
        var tracker = tracker([spec(101)])
        let stray = key(999)
        #expect(tracker.record(ok(stray, 5, at: 1)).isEmpty)
        #expect(tracker.record(failed(stray, .auth, at: 2)).isEmpty)
        #expect(tracker.meters[stray] == nil)
        _ = tracker.configure([])
        #expect(tracker.record(ok(a, 5, at: 3)).isEmpty, "a poll that ends after its meter was removed")
        #expect(tracker.meters.isEmpty)
    }

    @Test func sameIdWithAnotherVersionIsASeparateMeter() throws {
        var tracker = tracker([spec(101, "0.0.1"), spec(101, "0.0.2")])
        _ = tracker.record(ok(key(101, "0.0.1"), 5, at: 1))
        _ = tracker.record(ok(key(101, "0.0.2"), 8, at: 1))
        _ = tracker.record(ok(key(101, "0.0.2"), 5, at: 2))
        #expect(tracker.meters[key(101, "0.0.1")]?.transitions.isEmpty == true)
        #expect(tracker.meters[key(101, "0.0.2")]?.transitions.count == 1)
    }
}
