import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Time for waiting and measuring: seconds on a clock that only moves forward at a steady rate, whatever
/// happens to the wall clock (an NTP step, a VM resumed from a snapshot). Schedules, back-offs, gates,
/// budget windows, token lifetimes and timeouts run on it; shown timestamps use `WallClock`.
public protocol MonotonicClock: Sendable {
    /// Seconds since an arbitrary origin fixed for the life of the process.
    func now() -> Double
    /// Returns at `deadline` (or at once when it has passed); throws `CancellationError` when the task is
    /// cancelled first.
    func sleep(until deadline: Double) async throws
}

extension MonotonicClock {
    public func sleep(for seconds: Double) async throws { try await sleep(until: now() + seconds) }
}

/// `CLOCK_MONOTONIC`; sleeps end on `TimerThread`, which waits with relative timeouts against this clock.
public struct SystemMonotonicClock: MonotonicClock {
    public init() {}

    public func now() -> Double { TimerThread.now() }

    public func sleep(until deadline: Double) async throws {
        try await TimerThread.shared.sleep(until: deadline)
    }
}

/// Seconds since the Unix epoch: only for timestamps the exporter shows (metrics, logs, the landing page).
public protocol WallClock: Sendable {
    func now() -> Double
}

/// `CLOCK_REALTIME`.
public struct SystemWallClock: WallClock {
    public init() {}

    public func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

/// A monotonic clock that moves only when told to: tests drive schedules, back-offs and pauses with it
/// instead of sleeping. Sleepers whose deadline is reached by `advance` are resumed in deadline order.
public final class ManualClock: MonotonicClock {
    private let current: Mutex<Double>
    private let sleepers = Sleepers()

    public init(now: Double = 1000) { current = Mutex(now) }

    public func now() -> Double { current.withLock { $0 } }

    /// How many tasks are asleep on this clock: lets a test wait until a loop has parked before advancing.
    public var sleeperCount: Int { sleepers.count }

    /// The earliest deadline anyone sleeps until.
    public var nextDeadline: Double? { sleepers.nextDeadline }

    public func sleep(until deadline: Double) async throws {
        try await sleepers.sleep(until: deadline, now: { self.now() }, onEarliest: {})
    }

    /// Moves time forward and wakes every sleeper whose deadline is reached.
    public func advance(by seconds: Double) {
        let now = current.withLock { now in
            now += max(0, seconds)
            return now
        }
        sleepers.wakeDue(now: now)
    }
}

/// A wall clock that shows what a test sets: stepping it back or ahead must change no poll's timing.
public final class ManualWallClock: WallClock {
    private let current: Mutex<Double>

    public init(now: Double = 1_800_000_000) { current = Mutex(now) }

    public func now() -> Double { current.withLock { $0 } }

    public func set(_ seconds: Double) { current.withLock { $0 = seconds } }

    public func step(by seconds: Double) { current.withLock { $0 += seconds } }
}
