import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Wakes sleepers at deadlines on CLOCK_MONOTONIC, from a thread of its own that waits with relative
/// timeouts (`poll`) and reads the clock itself.
///
/// Hand-written instead of `Task.sleep` because the runtime's timers were seen to stall for the length of
/// a wall-clock step: under libfaketime (how the tests step a process's wall clock), a `Task.sleep` that
/// began after an hour's step back did not return for an hour. A relative wait, re-checked against the
/// monotonic clock, does not depend on how the runtime arms its timers.
final class TimerThread: Sendable {
    static let shared = TimerThread()

    private let sleepers = Sleepers()
    /// A wake-up byte is in the pipe and not read yet: one is enough (the pipe never fills).
    private let wakePending = Mutex(false)
    /// A pipe written to when an earlier deadline arrives, so that the thread's wait starts over.
    private let wakeRead: Int32
    private let wakeWrite: Int32

    private init() {
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        wakeRead = fds[0]
        wakeWrite = fds[1]
        let thread = Thread { [self] in run() }
        thread.name = "zme-timer"
        thread.start()
    }

    static func now() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    func sleep(until deadline: Double) async throws {
        try await sleepers.sleep(until: deadline, now: { Self.now() }, onEarliest: { self.wake() })
    }

    private func wake() {
        guard
            wakePending.withLock({ pending in
                defer { pending = true }
                return !pending
            })
        else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func run() {
        var descriptor = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
        while true {
            sleepers.wakeDue(now: Self.now())
            let next = sleepers.nextDeadline
            // At most a minute at a time: the loop re-reads the clock rather than trusting one long wait.
            let timeout = next.map { Int32(min(max(($0 - Self.now()) * 1000, 0), 60_000).rounded(.up)) } ?? 60_000
            descriptor.revents = 0
            if poll(&descriptor, 1, timeout) > 0 {
                var byte: UInt8 = 0
                wakePending.withLock { $0 = false }
                _ = read(wakeRead, &byte, 1)
            }
        }
    }
}
