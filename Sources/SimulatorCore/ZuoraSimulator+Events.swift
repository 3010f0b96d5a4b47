public import MediationCore
import Synchronization

/// What the simulator has to tell by callout: status changes, and periodic snapshots of running sessions.
public enum SimulatorEvent: Sendable {
    case statusChange(MeterKey, StatusChange)
    case periodic(MeterKey, PeriodicSnapshot)
}

/// One operator's records so far in a running session ("Meter Session Periodic Status Update").
public struct PeriodicSnapshot: Sendable, Equatable {
    public let sessionId: String
    public let start: Double
    public let operatorId: String
    public let output: Int
    public let errors: Int
}

extension ZuoraSimulator {
    /// Advances every meter to `now` and takes the events since the last call: the status changes (when
    /// `statusEvents` is set), then, every `periodicInterval` from a session's start while it runs, one
    /// snapshot per operator (intervals missed between two calls give one snapshot, not several).
    public func events(now: Double) -> [SimulatorEvent] {
        state.withLock { state in
            for key in Array(state.meters.keys) { state.advance(key, to: now, settings: settings) }
            var events = state.outbox.map { SimulatorEvent.statusChange($0.0, $0.1) }
            state.outbox.removeAll()
            guard let interval = settings.periodicInterval, interval > 0 else { return events }
            for (key, meter) in state.meters.sorted(by: { $0.key.meterId < $1.key.meterId }) {
                guard let session = meter.runningSession else {
                    state.periodicMarks[key] = nil
                    continue
                }
                let due = Int(min(max(0, (now - session.start) / interval), 1e9))
                var mark = state.periodicMarks[key] ?? (session.number, 0)
                if mark.session != session.number { mark = (session.number, 0) }
                guard due > mark.count else { continue }
                state.periodicMarks[key] = (session.number, due)
                for index in 0..<session.records.operators {
                    let records = session.counts(operator: index, at: now)
                    let snapshot = PeriodicSnapshot(
                        sessionId: session.sessionId,
                        start: session.start,
                        operatorId: SimulatedSession.operatorId(index),
                        output: records.output,
                        errors: records.errorCount
                    )
                    events.append(.periodic(key, snapshot))
                }
            }
            return events
        }
    }

    /// Status changes dropped because nobody took them in time (see `outboxLimit`).
    public var droppedEvents: Int { state.withLock { $0.outboxDropped } }

    func calloutStats() -> CalloutCounters.Snapshot { calloutCounters.snapshot }
}
