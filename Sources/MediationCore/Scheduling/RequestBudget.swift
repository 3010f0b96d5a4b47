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
    ///
    /// `keeping` is for requests that come after polls (summaries): each window then counts as full
    /// `keeping` requests early, at most half its cap, so that what is left stays for the polls.
    public mutating func reserve(now: Double, keeping: Int = 0) -> Double? {
        if now < pausedUntil { return pausedUntil }
        for index in windows.indices { windows[index].roll(to: now) }
        if let full = windows.first(where: { $0.used >= $0.limit - min(max(0, keeping), $0.limit / 2) }) {
            return full.nextRelease()
        }
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
