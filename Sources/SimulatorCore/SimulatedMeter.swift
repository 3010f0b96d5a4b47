public import MediationCore

/// One simulated meter-version. Left alone, it runs through Zuora's lifecycle (NEVER_RUN, then runs of
/// INITIALIZING → RUNNING → USAGE_PUSHING → PUSH_COMPLETED → COMPLETED, some ending in FAILED), one
/// step every `step` seconds. A status set through the control API pins it until released. Each run is a
/// session with records (see `SimulatedSession`); the last `historyLimit` sessions are kept.
public struct SimulatedMeter: Sendable, Equatable {
    public static let historyLimit = 20

    public var status: RunStatus
    public var pinned: Bool
    public var nextChangeAt: Double
    public let meterId: Int64
    /// Applies to the sessions that start from now on, and to the running one.
    public var records = RecordSettings()
    /// Past and running sessions, oldest first.
    public private(set) var sessions: [SimulatedSession] = []
    /// The number of the last session started (0 before any).
    public private(set) var runs = 0
    /// Position in the lifecycle and a per-meter pseudo-random state, so runs differ between meters
    /// but repeat exactly for the same seed.
    var phase = 0
    var random: UInt64
    let seed: UInt64

    static let runSteps = [10, 5, 11, 12, 7]  // INITIALIZING, RUNNING, USAGE_PUSHING, PUSH_COMPLETED, COMPLETED
    /// The statuses that end a session (the list).
    public static let endedNames: Set<String> = ["COMPLETED", "FAILED", "CANCELED", "TESTING_PASSED", "TESTING_FAILED"]

    public init(seed: UInt64, now: Double, step: Double?, meterId: Int64 = 0) {
        status = RunStatus(code: 1)
        pinned = step == nil
        random = seed | 1
        self.seed = seed
        self.meterId = meterId
        // Meters start their first run at different moments, as real meters would.
        nextChangeAt = now + (step ?? 0) * (1 + Double(seed % 100) / 100)
    }

    public var runningSession: SimulatedSession? { sessions.last.flatMap { $0.isRunning ? $0 : nil } }

    /// Advances the lifecycle up to `now`; returns the status changes on the way, in order.
    /// `nextRun` numbers new sessions (the simulator numbers them per meter, across its versions).
    @discardableResult
    public mutating func advance(to now: Double, step: Double?, nextRun: (() -> Int)? = nil) -> [StatusChange] {
        guard let step, !pinned else { return [] }
        var changes: [StatusChange] = []
        while now >= nextChangeAt {
            let at = nextChangeAt
            nextChangeAt += step
            if phase < Self.runSteps.count {
                // Past INITIALIZING, a run fails one time in five.
                if phase >= 2, nextRandom() % 5 == 0 {
                    changes += change(to: RunStatus(code: 8), at: at, tick: step, nextRun: nextRun).map { [$0] } ?? []
                    phase = Self.runSteps.count
                } else {
                    let status = RunStatus(code: Self.runSteps[phase])
                    changes += change(to: status, at: at, tick: step, nextRun: nextRun).map { [$0] } ?? []
                    phase += 1
                }
            } else {
                // At rest between runs for one step, then a new run starts.
                phase = 0
            }
        }
        return changes
    }

    /// Sets the status at `at`, starting a session when a run begins and ending it (with its records) when
    /// the run ends; nil when the status does not change. An ended status with no session running stands
    /// for a run that went by unseen: it gets a session that starts and ends at once.
    public mutating func change(
        to new: RunStatus,
        at: Double,
        tick: Double,
        nextRun: (() -> Int)? = nil
    ) -> StatusChange? {
        guard new != status else { return nil }
        let previous = status
        status = new
        let ended = Self.endedNames.contains(new.name)
        if runningSession == nil, new.name != "NEVER_RUN" {
            startSession(at: at, tick: tick, number: nextRun?() ?? runs + 1)
        }
        if ended, var session = sessions.popLast() {
            session.end = at
            session.endStatus = new
            sessions.append(session)
        }
        let session = sessions.last
        return StatusChange(
            at: at,
            previous: previous,
            status: new,
            sessionId: session?.sessionId ?? "S-\(meterId)-0",
            start: session?.start,
            end: session?.end
        )
    }

    /// New records settings apply to the running session as well, so that a test can change them at any time.
    public mutating func setRecords(_ settings: RecordSettings) {
        records = settings
        if runningSession != nil { sessions[sessions.count - 1].records = settings }
    }

    private mutating func startSession(at: Double, tick: Double, number: Int) {
        runs = number
        sessions.append(
            SimulatedSession(meterId: meterId, number: number, start: at, records: records, tick: tick, seed: seed)
        )
        if sessions.count > Self.historyLimit { sessions.removeFirst(sessions.count - Self.historyLimit) }
    }

    private mutating func nextRandom() -> UInt64 {
        // xorshift64: tiny, deterministic, good enough for a demo.
        random ^= random << 13
        random ^= random >> 7
        random ^= random << 17
        return random
    }
}

/// A status change of a simulated meter, with the session it belongs to (what a status callout carries).
public struct StatusChange: Sendable, Equatable {
    public let at: Double
    public let previous: RunStatus
    public let status: RunStatus
    public let sessionId: String
    public let start: Double?
    public let end: Double?
}
