import Foundation
public import MediationCore
import Synchronization

/// Delivers callouts as Zuora does: POST with the JSON body, Basic authentication only after the
/// receiver's `401` challenge (one immediate repeat with credentials, not counted as a failed attempt)
/// unless preemptive, an optional HMAC-SHA256 of the body, the same `Zuora-Notification-Id` on every
/// retry and a new `Zuora-Request-Id` on every request, retries `retryDelay` apart on 1xx, 403, 408, 429,
/// 5xx, timeouts and connection errors up to `attempts`, no redirect followed (3xx is a failure, not
/// retried). Waiting notifications are bounded: when the queue is full the oldest is dropped and counted.
/// Time comes from the clock given: tests drive it by hand and call `deliverDue()`.
public final class CalloutDelivery: Sendable {
    /// One notification and where it stands.
    struct Pending {
        let url: String
        let body: [UInt8]
        let notificationId: String
        var failedAttempts = 0
        var due: Double
    }

    private struct Queue {
        /// New notifications and retries, each in due order (retries all wait the same delay).
        var fresh: [Pending] = []
        var freshHead = 0
        var retries: [Pending] = []
        var retriesHead = 0

        var count: Int { fresh.count - freshHead + retries.count - retriesHead }

        mutating func take(now: Double) -> Pending? {
            if retriesHead < retries.count, retries[retriesHead].due <= now {
                defer { retriesHead += 1 }
                return retries[retriesHead]
            }
            guard freshHead < fresh.count else { return nil }
            defer { freshHead += 1 }
            return fresh[freshHead]
        }

        /// Drops the oldest waiting notification: a retry has waited longer than any new one.
        mutating func dropOldest() {
            if retriesHead < retries.count { retriesHead += 1 } else if freshHead < fresh.count { freshHead += 1 }
        }

        mutating func compact() {
            if freshHead > 1024, freshHead * 2 > fresh.count {
                fresh.removeFirst(freshHead)
                freshHead = 0
            }
            if retriesHead > 1024, retriesHead * 2 > retries.count {
                retries.removeFirst(retriesHead)
                retriesHead = 0
            }
        }
    }

    let settings: CalloutSettings
    private let sender: any CalloutSender
    private let clock: any MonotonicClock
    private let counters: CalloutCounters
    private let queue = Mutex(Queue())

    public init(
        settings: CalloutSettings,
        sender: any CalloutSender,
        clock: any MonotonicClock,
        counters: CalloutCounters
    ) {
        self.settings = settings
        self.sender = sender
        self.clock = clock
        self.counters = counters
    }

    /// Notifications waiting or waiting again.
    public var waiting: Int { queue.withLock { $0.count } }

    /// Queues a notification, due at once, with a new notification id.
    public func enqueue(url: String, body: [UInt8]) {
        let pending = Pending(url: url, body: body, notificationId: UUID().uuidString.lowercased(), due: clock.now())
        let dropped = queue.withLock { queue -> Int in
            queue.fresh.append(pending)
            var dropped = 0
            while queue.count > settings.queueCapacity {
                queue.dropOldest()
                dropped += 1
            }
            queue.compact()
            return dropped
        }
        if dropped > 0 { counters.update { $0.dropped += dropped } }
    }

    /// Sends every notification due now, one after another (retries become due only as the clock moves).
    public func deliverDue() async {
        while await deliverNext() {}
    }

    /// Sends the next due notification, if any; false when none is due.
    public func deliverNext() async -> Bool {
        guard var pending = queue.withLock({ $0.take(now: clock.now()) }) else { return false }
        switch await attempt(pending) {
        case .delivered:
            counters.update { $0.sent += 1 }
        case .final:
            counters.update { $0.failed += 1 }
        case .retry:
            pending.failedAttempts += 1
            guard pending.failedAttempts < settings.attempts else {
                counters.update { $0.failed += 1 }
                return true
            }
            pending.due = clock.now() + settings.retryDelay
            queue.withLock { queue in
                queue.retries.append(pending)
                queue.compact()
            }
        }
        return true
    }

    /// Runs `workers` senders until the task is cancelled, looking for due notifications every `idle` seconds.
    public func run(workers: Int = 4, idle: Double = 0.05) async {
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<max(1, workers) {
                group.addTask {
                    while !Task.isCancelled {
                        if await self.deliverNext() { continue }
                        do { try await self.clock.sleep(for: idle) } catch { return }
                    }
                }
            }
        }
    }

    enum Verdict: Equatable {
        case delivered
        case retry
        case final
    }

    /// One attempt: one request, or two when the receiver challenges for the credentials.
    func attempt(_ pending: Pending) async -> Verdict {
        var result = await send(pending, credentials: settings.preemptive)
        if !settings.preemptive, case .answered(401, let challenge) = result,
            challenge?.lowercased().hasPrefix("basic") == true, settings.username != nil
        {
            result = await send(pending, credentials: true)
        }
        switch result {
        case .answered(let status, _) where (200..<300).contains(status): return .delivered
        case .answered(let status, _)
        where status < 200 || [403, 408, 429].contains(status) || (500..<600).contains(status):
            return .retry
        case .answered: return .final
        case .timedOut, .failed: return .retry
        }
    }

    private func send(_ pending: Pending, credentials: Bool) async -> CalloutResult {
        var headers = [
            CalloutRequest.Header(name: "Content-Type", value: "application/json"),
            CalloutRequest.Header(name: "Zuora-Notification-Id", value: pending.notificationId),
            CalloutRequest.Header(name: "Zuora-Request-Id", value: UUID().uuidString.lowercased()),
        ]
        if credentials, let username = settings.username, let password = settings.password {
            let token = Data("\(username):\(password)".utf8).base64EncodedString()
            headers.append(.init(name: "Authorization", value: "Basic \(token)"))
        }
        if let secret = settings.hmacSecret {
            let mac = Signatures.hmacSHA256(key: Array(secret.utf8), message: pending.body)
            let value =
                switch settings.hmacEncoding {
                case .hex: Signatures.hex(mac)
                case .base64: Data(mac).base64EncodedString()
                }
            headers.append(.init(name: settings.hmacHeader, value: value))
        }
        counters.update { $0.attempts += 1 }
        return await sender.send(
            CalloutRequest(url: pending.url, headers: headers, body: pending.body, timeout: settings.timeout)
        )
    }
}
