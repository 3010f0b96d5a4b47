/// Zuora's request caps per window. The hourly and daily ones bite first on sandbox tenants.
public struct BudgetLimits: Sendable, Equatable {
    public var perMinute: Int?
    public var perHour: Int?
    public var perDay: Int?

    public init(perMinute: Int? = nil, perHour: Int? = nil, perDay: Int? = nil) {
        self.perMinute = perMinute
        self.perHour = perHour
        self.perDay = perDay
    }

    public var isEmpty: Bool { perMinute == nil && perHour == nil && perDay == nil }

    /// (window name, length in seconds, cap) for each cap that is set.
    public var windows: [(name: String, seconds: Double, limit: Int)] {
        [("minute", 60, perMinute), ("hour", 3600, perHour), ("day", 86_400, perDay)].compactMap {
            name,
            seconds,
            limit in
            limit.map { (name, seconds, $0) }
        }
    }

    /// This replica's share when `total` replicas split the meters.
    public func share(of total: Int) -> BudgetLimits {
        guard total > 1 else { return self }
        func part(_ value: Int?) -> Int? { value.map { max(1, $0 / total) } }
        return BudgetLimits(perMinute: part(perMinute), perHour: part(perHour), perDay: part(perDay))
    }

    /// Documented tenant limits (reference notes, "Rate limits").
    public static let tenantTypes: [(name: String, limits: BudgetLimits)] = [
        ("production", BudgetLimits(perMinute: 50_000, perHour: 2_250_000, perDay: 27_000_000)),
        ("developer_sandbox", BudgetLimits(perMinute: 12_500, perHour: 25_000, perDay: 50_000)),
        ("api_sandbox", BudgetLimits(perMinute: 2_500, perHour: 5_000, perDay: 10_000)),
    ]
}

/// Counts requests in sliding windows and refuses those over a cap, and holds every request back while
/// Zuora asked the whole tenant to wait (429 or 503 with Retry-After, or `ratelimit-remaining: 0`).
/// Pure: callers pass the time and do the waiting.
public struct RequestBudget: Sendable {
    /// One counter per slot of each window (60 slots a window), so memory stays constant.
    private struct Window: Sendable {
        let name: String
        let seconds: Double
        var limit: Int
        var slots = [Int](repeating: 0, count: 60)
        var slotIndex = 0
        var slotStart = 0.0

        var slotLength: Double { seconds / Double(slots.count) }

        mutating func roll(to now: Double) {
            if slotStart == 0 { slotStart = now }
            let elapsed = Int((now - slotStart) / slotLength)
            guard elapsed > 0 else { return }
            for step in 1...min(elapsed, slots.count) { slots[(slotIndex + step) % slots.count] = 0 }
            slotIndex = (slotIndex + elapsed) % slots.count
            slotStart += Double(elapsed) * slotLength
        }

        var used: Int { slots.reduce(0, +) }

        /// When the oldest counted request leaves the window.
        func nextRelease() -> Double {
            for step in 1...slots.count where slots[(slotIndex + step) % slots.count] > 0 {
                return slotStart + Double(step) * slotLength
            }
            return slotStart + slotLength
        }
    }

    private var windows: [Window]
    public private(set) var pausedUntil: Double = 0

    public init(limits: BudgetLimits) {
        windows = limits.windows.map { Window(name: $0.name, seconds: $0.seconds, limit: $0.limit) }
    }

    /// Counts a request now if every window has room; otherwise returns when to try again.
    public mutating func reserve(now: Double) -> Double? {
        if now < pausedUntil { return pausedUntil }
        for index in windows.indices { windows[index].roll(to: now) }
        if let full = windows.first(where: { $0.used >= $0.limit }) { return full.nextRelease() }
        for index in windows.indices { windows[index].slots[windows[index].slotIndex] += 1 }
        return nil
    }

    /// New caps (a reload) that keep the accounting: requests already counted in a window stay counted
    /// there, so a reload cannot hand out a window's allowance twice. A window that had no cap before starts
    /// empty; a window whose cap is removed is forgotten. A pause Zuora asked for stays.
    public mutating func update(limits: BudgetLimits) {
        windows = limits.windows.map { new in
            guard var kept = windows.first(where: { $0.name == new.name }) else {
                return Window(name: new.name, seconds: new.seconds, limit: new.limit)
            }
            kept.limit = new.limit
            return kept
        }
    }

    /// Holds every request back until `until` (tenant-wide: Zuora's limits are per tenant).
    public mutating func pause(until: Double) {
        // A NaN would stick (every comparison with it is false) and silently lift the pause.
        guard until.isFinite else { return }
        pausedUntil = max(pausedUntil, until)
    }

    /// Requests left in each window, for `zuora_api_request_budget_remaining`.
    public mutating func remaining(now: Double) -> [(window: String, remaining: Int)] {
        windows.indices.map { index in
            windows[index].roll(to: now)
            return (windows[index].name, max(0, windows[index].limit - windows[index].used))
        }
    }
}

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
