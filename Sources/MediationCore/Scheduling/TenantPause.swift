/// Polling's state while Zuora fails for the whole tenant (token endpoint down, 429/503, unreachable).
/// Pure: the poller passes the time and a jitter draw.
///
/// A tenant fault is not a fault of each meter: instead of every meter growing its own back-off (and
/// the fleet coming back one by one over minutes once the cause clears), polling stops as one and a
/// single probe goes out on an exponential schedule. The schedule is capped at half the active poll
/// interval, so that after the cause clears the probe succeeds and every meter is polled again within
/// one poll interval.
public struct TenantPause: Sendable, Equatable {
    /// Consecutive tenant faults; 0 when polling runs normally.
    public private(set) var failures = 0
    /// No poll (but the probe) before this time.
    public private(set) var probeAt: Double?
    /// A probe is in flight: nothing else goes out until it answers.
    public private(set) var probing = false

    public init() {}

    public var isPaused: Bool { probeAt != nil }

    /// What the dispatcher may do at `now`.
    public enum Permission: Equatable, Sendable {
        /// Poll whatever is due.
        case pollDue
        /// Send one probe now (any meter, due or not).
        case probe
        /// Send nothing before this time (or before the probe answers, when nil).
        case wait(until: Double?)
    }

    public func permission(now: Double) -> Permission {
        guard let probeAt else { return .pollDue }
        if probing { return .wait(until: nil) }
        return now >= probeAt ? .probe : .wait(until: probeAt)
    }

    public mutating func probeStarted() { probing = true }

    /// A request failed for the whole tenant: pause (or stay paused) and schedule the next probe.
    public mutating func fault(now: Double, activeInterval: Double, jitter: Double) {
        failures += 1
        probing = false
        let cap = max(0.5, activeInterval / 2)
        let base = min(1, cap)
        // Full jitter, but never sooner than a tenth of the way: a probe storm helps nobody.
        let delay = backoffDelay(failures: failures, base: base, cap: cap, jitter: 0.1 + 0.9 * jitter)
        probeAt = now + delay
    }

    /// A request got an answer that says nothing against the tenant: polling resumes.
    public mutating func cleared() {
        failures = 0
        probeAt = nil
        probing = false
    }
}
