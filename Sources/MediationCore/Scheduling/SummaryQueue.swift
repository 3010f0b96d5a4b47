/// Ended runs waiting for their summary, oldest first, and the one request in flight. Pure: the caller
/// passes the monotonic time. Kept inside the tracker, so that it changes under the same lock as the
/// runs' ends and survives a configuration reload.
///
/// Rules: at most one summary in flight; a run already queued for the same session is not queued again;
/// a failed attempt is retried after 10 s, 20 s, 40 s… (at most 5 min) until `maxAttempts` were made, then
/// given up; an answer that cannot change (400, 404) is given up at once. At most `maxPerMeter` runs wait
/// per meter-version (the oldest is dropped) and `maxTotal` in all (the new one is dropped).
public struct SummaryQueue: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let id: UInt64
        public var run: EndedRun
        /// Attempts made so far.
        public var attempts = 0
        /// Monotonic seconds before which it is not tried (again).
        public var notBefore = -Double.infinity
    }

    /// What the scheduler does next.
    public enum Next: Sendable, Equatable {
        case send(Entry)
        case wait(until: Double)
        /// Nothing queued.
        case idle
        /// One summary is in flight already.
        case busy
    }

    /// What became of an attempt.
    public enum Finish: Sendable, Equatable {
        case done
        case retry(at: Double)
        case gaveUp(reason: PollErrorReason, message: String, attempts: Int)
    }

    public static let maxPerMeter = 8
    public static let maxTotal = 10_000
    static let retryBase = 10.0
    static let retryCap = 300.0

    public private(set) var entries: [Entry] = []
    public private(set) var inFlight: UInt64?
    private var nextId: UInt64 = 1

    public init() {}

    public var isEmpty: Bool { entries.isEmpty }

    mutating func enqueue(_ run: EndedRun) {
        if let session = run.sessionId,
            entries.contains(where: { $0.run.key == run.key && $0.run.sessionId == session })
        {
            return
        }
        let queued = entries.filter { $0.run.key == run.key }
        if queued.count >= Self.maxPerMeter, let oldest = queued.first(where: { $0.id != inFlight }) {
            entries.removeAll { $0.id == oldest.id }
        }
        guard entries.count < Self.maxTotal else { return }
        entries.append(Entry(id: nextId, run: run))
        nextId &+= 1
    }

    /// A callout named the session of an end a poll counted: that end's run, if it still waits, asks for it
    /// by id. Matched by the end's time, not by being the newest waiting: an older run waiting for a retry
    /// must not take the session of a newer one already summarised by its window.
    mutating func identify(_ key: MeterKey, sessionId: String, endedAt: Double?) {
        guard let endedAt,
            let index = entries.lastIndex(where: {
                $0.run.key == key && $0.run.sessionId == nil && $0.run.windowEnd == endedAt
            })
        else { return }
        entries[index].run.sessionId = sessionId
    }

    /// Drops every waiting run (summaries turned off). Ids keep counting: an attempt still in flight must
    /// not finish a later entry that reused its id.
    mutating func clear() {
        entries.removeAll()
        inFlight = nil
    }

    mutating func remove(_ key: MeterKey) {
        entries.removeAll { $0.run.key == key }
    }

    /// Takes the oldest run that is due, marking it in flight.
    public mutating func next(now: Double) -> Next {
        if inFlight != nil { return .busy }
        guard let soonest = entries.min(by: { ($0.notBefore, $0.id) < ($1.notBefore, $1.id) }) else { return .idle }
        guard soonest.notBefore <= now else { return .wait(until: soonest.notBefore) }
        inFlight = soonest.id
        return .send(soonest)
    }

    /// The attempt in flight ended: `failure` nil for a summary received. Nil when the entry is gone (its
    /// meter-version was removed meanwhile).
    public mutating func finish(
        _ id: UInt64,
        failure: (reason: PollErrorReason, message: String)?,
        tenantWide: Bool = false,
        now: Double,
        maxAttempts: Int
    ) -> Finish? {
        if inFlight == id { inFlight = nil }
        guard let index = entries.firstIndex(where: { $0.id == id }) else { return nil }
        // A fault of the whole tenant (no token, Zuora unreachable or asking everyone to wait) says nothing
        // about this summary: tried again later without using up one of its attempts.
        if failure != nil, tenantWide {
            entries[index].notBefore = now + Self.retryBase
            return .retry(at: now + Self.retryBase)
        }
        entries[index].attempts += 1
        guard let failure else {
            entries.remove(at: index)
            return .done
        }
        let attempts = entries[index].attempts
        if attempts >= maxAttempts || failure.reason == .badRequest || failure.reason == .notFound {
            entries.remove(at: index)
            return .gaveUp(reason: failure.reason, message: failure.message, attempts: attempts)
        }
        let at = now + backoffDelay(failures: attempts, base: Self.retryBase, cap: Self.retryCap)
        entries[index].notBefore = at
        return .retry(at: at)
    }

    /// The attempt in flight was cancelled (shutdown): not counted, the run stays queued.
    public mutating func abandon(_ id: UInt64) {
        if inFlight == id { inFlight = nil }
    }
}
