import MediationCore
import Synchronization

/// Every request to Zuora passes here first: it waits while the tenant is paused (Zuora asked to back
/// off) or the configured request budget is spent. Zuora's limits are per tenant, so one gate serves
/// every meter and the token endpoint alike.
final class RequestGate: Sendable {
    private let budget: Mutex<RequestBudget>
    private let hasLimits: Mutex<Bool>
    private let metrics: ExporterMetrics

    init(limits: BudgetLimits, metrics: ExporterMetrics) {
        self.budget = Mutex(RequestBudget(limits: limits))
        self.hasLimits = Mutex(!limits.isEmpty)
        self.metrics = metrics
        if !limits.isEmpty { metrics.setBudgetRemaining(budget.withLock { $0.remaining(now: Clock.now()) }) }
    }

    /// New limits (reload); counts start afresh, a pause Zuora asked for stays.
    func update(limits: BudgetLimits) {
        budget.withLock { budget in
            let pausedUntil = budget.pausedUntil
            budget = RequestBudget(limits: limits)
            budget.pause(until: pausedUntil)
        }
        hasLimits.withLock { $0 = !limits.isEmpty }
    }

    /// Returns once a request may be sent, having counted it.
    func acquire() async {
        while true {
            let now = Clock.now()
            let (retryAt, remaining) = budget.withLock { budget -> (Double?, [(window: String, remaining: Int)]) in
                let retryAt = budget.reserve(now: now)
                return (retryAt, hasLimits.withLock { $0 } ? budget.remaining(now: now) : [])
            }
            if !remaining.isEmpty { metrics.setBudgetRemaining(remaining) }
            guard let retryAt else { return }
            // Short naps, so that a pause lifted early (or a cancelled task) is noticed soon.
            let wait = min(max(retryAt - now, 0.001), 1)
            do { try await Task.sleep(for: .milliseconds(Int64(wait * 1000))) } catch { return }
        }
    }

    /// Reads Zuora's back-off signals from a response: `Retry-After` on 429 and 503, and
    /// `ratelimit-remaining: 0` with `ratelimit-reset`.
    func observe(_ response: CurlResponse) {
        let now = Clock.now()
        // libcurl hands header values over without surrounding blanks.
        func number(_ name: String) -> Double? { response.headers[name].flatMap { Double($0) } }
        var until: Double?
        if response.status == 429 || response.status == 503 {
            // Seconds; an HTTP-date (which Zuora is not documented to send) falls back to 5 s.
            until = now + (number("retry-after") ?? 5)
        } else if number("ratelimit-remaining") == 0 {
            until = now + (number("ratelimit-reset") ?? 1)
        }
        guard let until else { return }
        budget.withLock { $0.pause(until: min(until, now + 3600)) }
    }
}
