import MediationCore
import Synchronization

/// Every request to Zuora passes here first: it waits while the tenant is paused (Zuora asked to back
/// off) or the configured request budget is spent. Zuora's limits are per tenant, so one gate serves
/// every meter and the token endpoint alike.
final class RequestGate: Sendable {
    private let budget: Mutex<RequestBudget>
    private let hasLimits: Mutex<Bool>
    private let metrics: ExporterMetrics
    private let clock: any MonotonicClock

    /// The longest pause a response can impose: a hostile or broken Retry-After must not park the
    /// exporter for days.
    static let maxPause = 3600.0

    init(limits: BudgetLimits, metrics: ExporterMetrics, clock: any MonotonicClock) {
        self.budget = Mutex(RequestBudget(limits: limits))
        self.hasLimits = Mutex(!limits.isEmpty)
        self.metrics = metrics
        self.clock = clock
        if !limits.isEmpty { metrics.setBudgetRemaining(budget.withLock { $0.remaining(now: clock.now()) }) }
    }

    /// New caps (reload). Requests already counted stay counted, so a reload does not reset the budget;
    /// a pause Zuora asked for stays.
    func update(limits: BudgetLimits) {
        budget.withLock { $0.update(limits: limits) }
        hasLimits.withLock { $0 = !limits.isEmpty }
    }

    /// Returns once a request may be sent, having counted it. Throws `CancellationError` as soon as the
    /// task is cancelled; the request is then not counted and must not be sent. `keeping` requests of each
    /// window stay for others (`RequestBudget.reserve(now:keeping:)`).
    func acquire(keeping: Int = 0) async throws(CancellationError) {
        while true {
            if Task.isCancelled { throw CancellationError() }
            let now = clock.now()
            let limited = hasLimits.withLock { $0 }
            let (retryAt, remaining) = budget.withLock { budget -> (Double?, [(window: String, remaining: Int)]) in
                let retryAt = budget.reserve(now: now, keeping: keeping)
                return (retryAt, limited ? budget.remaining(now: now) : [])
            }
            if !remaining.isEmpty { metrics.setBudgetRemaining(remaining) }
            guard let retryAt else { return }
            // At most a second at a time, so that caps raised by a reload are noticed soon.
            do { try await clock.sleep(until: min(retryAt, now + 1)) } catch { throw CancellationError() }
        }
    }

    /// When the gate opens for the next request (now when it is open), for tests and logs.
    func pausedUntil() -> Double { budget.withLock { $0.pausedUntil } }

    /// Reads Zuora's back-off signals from a response: `Retry-After` on 429 and 503, and
    /// `ratelimit-remaining: 0` with `ratelimit-reset`. Returns whether the response asked the whole
    /// tenant to wait.
    @discardableResult
    func observe(_ response: CurlResponse) -> Bool {
        let now = clock.now()
        var wait: Double?
        if response.status == 429 || response.status == 503 {
            // Seconds; an HTTP-date (which Zuora is not documented to send) or garbage falls back to 5 s.
            wait = Self.seconds(response.headers["retry-after"]) ?? 5
        } else if Self.tenantExhausted(response) {
            wait = Self.seconds(response.headers["ratelimit-reset"]) ?? 1
        }
        guard let wait else { return false }
        budget.withLock { $0.pause(until: now + min(wait, Self.maxPause)) }
        return true
    }

    /// `ratelimit-remaining: 0`: the tenant's allowance is spent.
    static func tenantExhausted(_ response: CurlResponse) -> Bool {
        seconds(response.headers["ratelimit-remaining"]) == 0
    }

    /// A header's non-negative, finite number of seconds; nil for anything else (negative, NaN, infinity,
    /// non-ASCII digits, an HTTP-date).
    static func seconds(_ text: String?) -> Double? {
        // libcurl hands header values over without surrounding blanks.
        guard let text, text.utf8.count <= 64, text.utf8.allSatisfy({ $0 < 0x80 }),
            let value = Double(text), value.isFinite, value >= 0
        else { return nil }
        return value
    }
}
