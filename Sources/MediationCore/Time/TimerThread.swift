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
final class TimerThread: @unchecked Sendable {
    static let shared = TimerThread()

    private struct Sleeper {
        let id: Int
        let deadline: Double
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var nextId = 0
        var sleepers: [Sleeper] = []
        var cancelled: Set<Int> = []
        /// A wake-up byte is in the pipe and not read yet: one is enough (the pipe never fills).
        var wakePending = false
    }

    private let state = Mutex(State())
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
        let id = state.withLock { state in
            defer { state.nextId += 1 }
            return state.nextId
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (resume, earliest): (Result<Void, any Error>?, Bool) = state.withLock { state in
                    if state.cancelled.remove(id) != nil { return (.failure(CancellationError()), false) }
                    if deadline <= Self.now() { return (.success(()), false) }
                    let earliest = state.sleepers.allSatisfy { $0.deadline > deadline }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return (nil, earliest)
                }
                if let resume { continuation.resume(with: resume) }
                if earliest { wake() }
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

    private func wake() {
        guard
            state.withLock({ state in
                defer { state.wakePending = true }
                return !state.wakePending
            })
        else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func run() {
        var descriptor = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
        while true {
            let now = Self.now()
            let due: [Sleeper] = state.withLock { state in
                let due = state.sleepers.filter { $0.deadline <= now }
                state.sleepers.removeAll { $0.deadline <= now }
                // Marks of cancellations that raced with a resume would otherwise pile up.
                if state.sleepers.isEmpty, state.cancelled.count > 1024 { state.cancelled.removeAll() }
                return due
            }
            for sleeper in due { sleeper.continuation.resume() }
            let next = state.withLock { $0.sleepers.map(\.deadline).min() }
            // At most a minute at a time: the loop re-reads the clock rather than trusting one long wait.
            let timeout = next.map { Int32(min(max(($0 - Self.now()) * 1000, 0), 60_000).rounded(.up)) } ?? 60_000
            descriptor.revents = 0
            if poll(&descriptor, 1, timeout) > 0 {
                var byte: UInt8 = 0
                state.withLock { $0.wakePending = false }
                _ = read(wakeRead, &byte, 1)
            }
        }
    }
}
