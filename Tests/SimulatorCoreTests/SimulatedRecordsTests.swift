import Foundation
import MediationCore
import SimulatorCore
import Testing

/// Runs produce records per operator and error code, deterministic per seed, with many more errors when
/// they fail; pinned ended statuses end the session with its records.
struct SimulatedRecordsTests {
    /// Runs a meter through its lifecycle for `seconds` one-second steps.
    func meter(seed: UInt64, seconds: Int = 200) -> SimulatedMeter {
        var meter = SimulatedMeter(seed: seed, now: 0, step: 1, meterId: 7)
        meter.advance(to: Double(seconds), step: 1)
        return meter
    }

    @Test func runsAreSessionsWithIdsTimesAndABoundedHistory() {
        let meter = meter(seed: 3, seconds: 400)
        #expect(meter.sessions.count == SimulatedMeter.historyLimit, "only the last 20 sessions are kept")
        #expect(meter.runs > SimulatedMeter.historyLimit)
        let last = meter.sessions.last!
        #expect(last.sessionId == "S-7-\(meter.runs)")
        for session in meter.sessions.dropLast() {
            #expect(session.end.map { $0 > session.start } == true, "an ended session has its end after its start")
            #expect(SimulatedMeter.endedNames.contains(session.endStatus?.name ?? ""))
        }
        #expect(meter == self.meter(seed: 3, seconds: 400), "the same seed repeats exactly")
    }

    @Test func recordsGrowStepByStepPerOperatorWithErrorCodes() throws {
        var meter = SimulatedMeter(seed: 11, now: 0, step: nil, meterId: 5)
        _ = meter.change(to: RunStatus(code: 5), at: 100, tick: 1)
        let session = try #require(meter.runningSession)
        #expect(session.sessionId == "S-5-1" && session.records.operators == 3)
        let early = (0..<3).map { session.counts(operator: $0, at: 101) }
        let later = (0..<3).map { session.counts(operator: $0, at: 110) }
        for (before, after) in zip(early, later) {
            #expect(after.output > before.output && before.output > 0)
            #expect(after.errorCount >= before.errorCount)
        }
        #expect(
            (0..<3).map(SimulatedSession.operatorId) == ["op-read", "op-transform", "op-write"]
        )
        let codes = Set(later.flatMap { $0.errors.map { SimulatedSession.errorCodes[$0.code] } })
        #expect(!codes.isEmpty && codes.isSubset(of: ["E_PARSE", "E_LOOKUP", "E_DUPLICATE"]))
    }

    @Test func failedRunsHaveManyMoreErrors() throws {
        func errorShare(_ status: Int) throws -> Double {
            var meter = SimulatedMeter(seed: 42, now: 0, step: nil, meterId: 9)
            _ = meter.change(to: RunStatus(code: 5), at: 0, tick: 1)
            _ = meter.change(to: RunStatus(code: status), at: 20, tick: 1)
            let session = try #require(meter.sessions.last)
            #expect(session.end == 20 && !session.isRunning)
            let records = (0..<3).map { session.counts(operator: $0, at: 1000) }
            let errors = records.reduce(0) { $0 + $1.errorCount }
            let output = records.reduce(0) { $0 + $1.output }
            #expect(records.map(\.output) == (0..<3).map { session.counts(operator: $0, at: 20).output }, "ended")
            return Double(errors) / Double(errors + output)
        }
        let completed = try errorShare(7)
        let failed = try errorShare(8)
        #expect(completed < 0.05)
        #expect(failed > 0.3 && failed > completed * 10)
    }

    @Test func anEndedStatusWithNoRunningSessionStillGetsOneWithRecords() throws {
        var meter = SimulatedMeter(seed: 1, now: 0, step: nil, meterId: 4)
        let changed = meter.change(to: RunStatus(code: 8), at: 50, tick: 1)
        let change = try #require(changed)
        #expect(change.previous.name == "NEVER_RUN" && change.sessionId == "S-4-1" && change.end == 50)
        let session = try #require(meter.sessions.last)
        #expect(session.counts(operator: 0, at: 50).errorCount > 0)
        #expect(meter.change(to: RunStatus(code: 8), at: 60, tick: 1) == nil, "no change, no new session")
    }

    @Test func tenThousandOperatorsAreDistinctAndCheap() {
        var meter = SimulatedMeter(seed: 5, now: 0, step: nil, meterId: 1)
        meter.setRecords(RecordSettings(operators: 10_000, errorRate: 0.5))
        _ = meter.change(to: RunStatus(code: 8), at: 10, tick: 1)
        guard let session = meter.sessions.last else { return #expect(Bool(false)) }
        #expect(Set((0..<10_000).map(SimulatedSession.operatorId)).count == 10_000)
        let records = (0..<10_000).map { session.counts(operator: $0, at: 10) }
        #expect(records.allSatisfy { $0.errorCount > 0 })
        #expect(session.counts(operator: 0, at: .infinity).output == session.counts(operator: 0, at: 10).output)
        var endless = SimulatedMeter(seed: 5, now: 0, step: nil, meterId: 1)
        _ = endless.change(to: RunStatus(code: 5), at: 0, tick: 1e-300)
        #expect(endless.runningSession?.counts(operator: 0, at: 1e300).output ?? 0 < 1 << 53, "capped, no trap")
        #expect(RecordSettings(operators: 1_000_000).operators == RecordSettings.maxOperators)
        #expect(RecordSettings(errorRate: .nan).errorRate == RecordSettings.defaultErrorRate)
    }
}
