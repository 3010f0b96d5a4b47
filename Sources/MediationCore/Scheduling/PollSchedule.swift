/// When each meter-version is next due. Pure: the poller asks it what to poll and tells it what happened.
///
/// New meter-versions are spread evenly over one interval in stable-hash order, so a fleet is never
/// polled in one burst. After a poll, the next is one interval (by the meter's state) after the last due
/// time, which keeps each meter in its place; failures back off exponentially with full jitter.
public struct PollSchedule: Sendable {
    private struct Entry: Sendable {
        var due: Double
        var failures = 0
    }

    private var entries: [MeterKey: Entry] = [:]
    /// A binary min-heap of (due, key); entries whose due no longer matches are skipped (lazy deletion).
    private var heap: [(due: Double, key: MeterKey)] = []
    private var inFlight: Set<MeterKey> = []
    private var cycleStart: Double?
    private var unpolledThisCycle: Set<MeterKey> = []

    public init() {}

    public var count: Int { entries.count }

    /// Makes the scheduled set exactly `keys`; new ones are spread over `spread` seconds from `now`.
    public mutating func sync(_ keys: [MeterKey], now: Double, spread: Double) {
        let wanted = Set(keys)
        for key in entries.keys where !wanted.contains(key) {
            entries[key] = nil
            unpolledThisCycle.remove(key)
        }
        let added = keys.filter { entries[$0] == nil }.map { (StableHash.of($0), $0) }.sorted { $0.0 < $1.0 }.map(\.1)
        for (index, key) in added.enumerated() {
            let due = now + spread * Double(index) / Double(added.count)
            entries[key] = Entry(due: due)
            push(due, key)
        }
        if cycleStart == nil, !keys.isEmpty {
            cycleStart = now
            unpolledThisCycle = wanted
        }
    }

    /// The earliest due time of a meter not being polled right now.
    public mutating func nextDue() -> Double? {
        while let top = heap.first {
            if let entry = entries[top.key], entry.due == top.due, !inFlight.contains(top.key) { return top.due }
            popTop()
        }
        return nil
    }

    /// Takes the next meter due at or before `now`, marking it in flight.
    public mutating func takeDue(now: Double) -> MeterKey? {
        guard let due = nextDue(), due <= now, let key = heap.first?.key else { return nil }
        popTop()
        inFlight.insert(key)
        return key
    }

    /// How a poll ended, as far as scheduling cares.
    public enum Ending: Sendable, Equatable {
        case succeeded
        /// A failure of this meter-version: it backs off on its own.
        case meterFault
        /// A failure of the whole tenant: the tenant pause governs; this meter is due again as soon as
        /// polling resumes, and its own back-off does not grow.
        case tenantFault
    }

    /// Records a finished poll and schedules the next one `interval` after the last due time (or, after a
    /// failure of the meter, after a jittered exponential backoff of at least `interval`). Returns a
    /// finished cycle's duration when this poll completed one.
    @discardableResult
    public mutating func finished(
        _ key: MeterKey,
        _ ending: Ending,
        interval: Double,
        now: Double,
        jitter: Double,
        backoffCap: Double
    ) -> Double? {
        inFlight.remove(key)
        guard var entry = entries[key] else { return nil }
        switch ending {
        case .succeeded:
            entry.failures = 0
            entry.due = max(now, entry.due + interval)
        case .meterFault:
            entry.failures += 1
            let backoff = backoffDelay(
                failures: entry.failures,
                base: interval,
                cap: max(backoffCap, interval),
                jitter: jitter
            )
            entry.due = now + max(interval, backoff)
        case .tenantFault:
            entry.due = now
        }
        entries[key] = entry
        push(entry.due, key)
        // A tenant fault did not poll the meter: the cycle waits for a real answer.
        guard ending != .tenantFault else { return nil }
        unpolledThisCycle.remove(key)
        guard unpolledThisCycle.isEmpty, let start = cycleStart else { return nil }
        cycleStart = now
        unpolledThisCycle = Set(entries.keys)
        return now - start
    }

    /// Takes the meter due soonest, due or not (the probe of a paused tenant), marking it in flight.
    public mutating func takeSoonest() -> MeterKey? {
        guard nextDue() != nil, let key = heap.first?.key else { return nil }
        popTop()
        inFlight.insert(key)
        return key
    }

    /// Moves a meter's next poll to `due` if that is sooner (e.g. a callout says it started a run).
    public mutating func expedite(_ key: MeterKey, to due: Double) {
        guard var entry = entries[key], due < entry.due, !inFlight.contains(key) else { return }
        entry.due = due
        entries[key] = entry
        push(due, key)
    }

    private mutating func push(_ due: Double, _ key: MeterKey) {
        heap.append((due, key))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].due < heap[parent].due else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func popTop() {
        heap.swapAt(0, heap.count - 1)
        heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, heap[left].due < heap[smallest].due { smallest = left }
            if right < heap.count, heap[right].due < heap[smallest].due { smallest = right }
            guard smallest != parent else { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
