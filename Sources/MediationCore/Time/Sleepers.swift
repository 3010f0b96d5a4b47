import Synchronization

/// Tasks asleep until deadlines: the bookkeeping that `ManualClock` and `TimerThread` share. Whoever owns
/// the time calls `wakeDue(now:)`; cancellation resumes a sleeper at once with `CancellationError`.
final class Sleepers: Sendable {
    private struct Sleeper {
        let id: Int
        let deadline: Double
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var nextId = 0
        var sleepers: [Sleeper] = []
        /// Sleepers cancelled before they parked: their continuation throws as soon as it is made.
        var cancelled: Set<Int> = []
    }

    private let state = Mutex(State())

    var count: Int { state.withLock { $0.sleepers.count } }

    var nextDeadline: Double? { state.withLock { $0.sleepers.map(\.deadline).min() } }

    /// Sleeps until `deadline`; `now` is read under the lock, `onEarliest` is called (outside it) when this
    /// sleeper's deadline is the earliest of all.
    func sleep(until deadline: Double, now: @Sendable () -> Double, onEarliest: @Sendable () -> Void) async throws {
        let id = state.withLock { state in
            defer { state.nextId += 1 }
            return state.nextId
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (resume, earliest): (Result<Void, any Error>?, Bool) = state.withLock { state in
                    if state.cancelled.remove(id) != nil { return (.failure(CancellationError()), false) }
                    if deadline <= now() { return (.success(()), false) }
                    let earliest = state.sleepers.allSatisfy { $0.deadline > deadline }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return (nil, earliest)
                }
                if let resume { continuation.resume(with: resume) }
                if earliest { onEarliest() }
            }
        } onCancel: {
            let sleeper: Sleeper? = state.withLock { state in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else {
                    state.cancelled.insert(id)
                    return nil
                }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Resumes, in deadline order, every sleeper whose deadline is at or before `now`.
    func wakeDue(now: Double) {
        let due = state.withLock { state in
            let due = state.sleepers.filter { $0.deadline <= now }.sorted { $0.deadline < $1.deadline }
            state.sleepers.removeAll { $0.deadline <= now }
            // Marks of cancellations that raced with a resume would otherwise pile up.
            if state.sleepers.isEmpty, state.cancelled.count > 1024 { state.cancelled.removeAll() }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }
}
