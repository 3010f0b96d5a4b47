import Synchronization

/// Lets a sleeping loop be woken early: `wait(until:on:)` returns at the deadline or at the next `signal()`,
/// whichever comes first. A signal given while nobody waits is kept for the next wait.
public final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Waits until `deadline` on `clock`, a signal, or cancellation. One waiter at a time.
    public func wait(until deadline: Double, on clock: any MonotonicClock) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Only a sleep that ran its course signals; a cancelled one leaves no stale signal.
                do {
                    try await clock.sleep(until: deadline)
                    self.signal()
                } catch {}
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if state.pending {
                            state.pending = false
                            return true
                        }
                        state.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                self.signal()
            }
            group.cancelAll()
        }
        // A signal raced with the timer: consume any leftover so the next wait does not return at once.
        state.withLock { $0.pending = false }
    }
}
