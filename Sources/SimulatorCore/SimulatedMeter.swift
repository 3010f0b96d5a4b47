public import MediationCore

/// One simulated meter-version. Left alone, it runs through Zuora's lifecycle (NEVER_RUN, then runs of
/// INITIALIZING → RUNNING → USAGE_PUSHING → PUSH_COMPLETED → COMPLETED, some ending in FAILED), one
/// step every `step` seconds. A status set through the control API pins it until released.
public struct SimulatedMeter: Sendable, Equatable {
    public var status: RunStatus
    public var pinned: Bool
    public var nextChangeAt: Double
    /// Position in the lifecycle and a per-meter pseudo-random state, so runs differ between meters
    /// but repeat exactly for the same seed.
    var phase = 0
    var random: UInt64

    static let runSteps = [10, 5, 11, 12, 7]  // INITIALIZING, RUNNING, USAGE_PUSHING, PUSH_COMPLETED, COMPLETED

    public init(seed: UInt64, now: Double, step: Double?) {
        status = RunStatus(code: 1)
        pinned = step == nil
        random = seed | 1
        // Meters start their first run at different moments, as real meters would.
        nextChangeAt = now + (step ?? 0) * (1 + Double(seed % 100) / 100)
    }

    /// Advances the lifecycle up to `now`.
    public mutating func advance(to now: Double, step: Double?) {
        guard let step, !pinned else { return }
        while now >= nextChangeAt {
            nextChangeAt += step
            if phase < Self.runSteps.count {
                // Past INITIALIZING, a run fails one time in five.
                if phase >= 2, nextRandom() % 5 == 0 {
                    status = RunStatus(code: 8)
                    phase = Self.runSteps.count
                } else {
                    status = RunStatus(code: Self.runSteps[phase])
                    phase += 1
                }
            } else {
                // At rest between runs for one step, then a new run starts.
                phase = 0
            }
        }
    }

    private mutating func nextRandom() -> UInt64 {
        // xorshift64: tiny, deterministic, good enough for a demo.
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        return random
    }
}

/// A response the control API asked for in place of the real one.
public struct InjectedFault: Error, Sendable, Equatable {
    public var status: Int
    public var body: String
    public var remaining: Int?
    public var retryAfter: Int?
    /// Seconds to wait before answering (a slow or hung Zuora).
    public var delay: Double
    /// The share of requests (0–1) that get this fault; the others are answered normally.
    public var probability: Double = 1
    /// A connection closed without an answer, or an answer cut short; nil answers whole.
    public var breakoff: SimulatedBreakoff?

    public init(status: Int, body: String, remaining: Int?, retryAfter: Int?, delay: Double) {
        self.status = status
        self.body = body
        self.remaining = remaining
        self.retryAfter = retryAfter
        self.delay = delay
    }
}

/// How an injected fault breaks the connection off instead of answering whole.
public enum SimulatedBreakoff: Sendable, Equatable {
    /// Close the connection without sending anything.
    case closeWithoutAnswer
    /// Send the status, the headers (with the whole body's Content-Length) and this many bytes of the body.
    case truncateBody(after: Int)
}
