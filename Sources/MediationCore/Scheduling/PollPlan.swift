/// How often meters are polled, and what that costs. Meters in a working state are polled every
/// `activeInterval`, meters at rest every `restInterval`; when a budget would be exceeded, both are
/// stretched by the same factor.
public struct PollPlan: Sendable, Equatable {
    public var activeInterval: Double
    public var restInterval: Double
    public var budget: BudgetLimits

    public init(activeInterval: Double, restInterval: Double, budget: BudgetLimits) {
        self.activeInterval = activeInterval
        self.restInterval = restInterval
        self.budget = budget
    }

    /// Requests per second that `active` and `resting` meters cost without stretching.
    public func rate(active: Int, resting: Int) -> Double {
        Double(active) / activeInterval + Double(resting) / restInterval
    }

    /// The factor (≥ 1) by which intervals stretch so that every window's cap holds, with 5 % headroom
    /// for token requests and retries.
    public func stretch(active: Int, resting: Int) -> Double {
        let rate = self.rate(active: active, resting: resting)
        guard rate > 0 else { return 1 }
        var factor = 1.0
        for window in budget.windows {
            let allowed = Double(window.limit) * 0.95 / window.seconds
            factor = max(factor, rate / allowed)
        }
        return factor
    }

    /// Requests an hour and a day: at worst (every meter active) and at rest (every meter resting).
    public func projection(meters: Int) -> (worstHour: Double, worstDay: Double, restHour: Double, restDay: Double) {
        let worst = rate(active: meters, resting: 0)
        let rest = rate(active: 0, resting: meters)
        return (worst * 3600, worst * 86_400, rest * 3600, rest * 86_400)
    }

    /// Lines for `--config.check`: the projection and a warning for each cap it would exceed.
    public func report(meters: Int, tenantType: String?) -> [String] {
        let p = projection(meters: meters)
        func whole(_ value: Double) -> String { String(Int(value.rounded())) }
        var lines = [
            "requests at worst (all \(meters) meter-versions active): \(whole(p.worstHour))/hour, \(whole(p.worstDay))/day",
            "requests at rest (all at rest): \(whole(p.restHour))/hour, \(whole(p.restDay))/day",
        ]
        var caps: [(String, BudgetLimits)] = []
        if !budget.isEmpty { caps.append(("zuora.request_budget", budget)) }
        if let tenantType, let limits = BudgetLimits.tenantTypes.first(where: { $0.name == tenantType })?.limits {
            caps.append(("the \(tenantType) tenant limit", limits))
        }
        for (name, limits) in caps {
            for window in limits.windows {
                let worst = (p.worstHour / 3600) * window.seconds
                if worst > Double(window.limit) {
                    let consequence: String
                    if budget.isEmpty {
                        consequence = "set zuora.request_budget so that the poller stays within it"
                    } else {
                        let stretched = activeInterval * stretch(active: meters, resting: 0)
                        consequence =
                            "the poller stretches intervals to stay within the budget "
                            + "(active meters every \(DurationText.format(stretched)) at worst)"
                    }
                    lines.append(
                        "warning: at worst \(whole(worst)) requests a \(window.name) exceed \(name) of \(window.limit); "
                            + consequence
                    )
                }
            }
        }
        return lines
    }
}
