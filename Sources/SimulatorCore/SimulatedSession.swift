public import MediationCore

/// How many operators a meter's runs report and the share of their records that fail.
public struct RecordSettings: Sendable, Equatable {
    /// Most operators a run may report: enough for a hostile tenant, bounded for the simulator's memory.
    public static let maxOperators = 100_000
    public static let defaultErrorRate = 0.02

    public var operators = 3
    /// Share of a run's records that fail (0–1) while it runs; a run that ends FAILED fails many more.
    public var errorRate = defaultErrorRate

    public init(operators: Int = 3, errorRate: Double = defaultErrorRate) {
        self.operators = min(max(operators, 1), Self.maxOperators)
        self.errorRate = errorRate.isFinite ? min(max(errorRate, 0), 1) : Self.defaultErrorRate
    }
}

/// One session (run) of a simulated meter and the records it produced. Counts are a pure function of
/// the seed, the run number, the operator and the time the run has lasted, so that nothing per operator
/// is stored (10,000 operators cost nothing until asked for) and the same seed repeats exactly.
public struct SimulatedSession: Sendable, Equatable {
    public static let errorCodes = ["E_PARSE", "E_LOOKUP", "E_DUPLICATE", "E_VALIDATION", "E_TIMEOUT"]
    static let defaultOperators = ["op-read", "op-transform", "op-write"]
    /// Ticks are capped so that counts stay far below 2^53 whatever the run's length.
    static let maxTicks = 10_000_000

    public let meterId: Int64
    /// The meter's run number: the n of `S-{meterId}-{n}`.
    public let number: Int
    public let start: Double
    public var end: Double?
    public var endStatus: RunStatus?
    public var records: RecordSettings
    /// Records accumulate once per tick of this many seconds.
    let tick: Double
    let seed: UInt64

    public init(meterId: Int64, number: Int, start: Double, records: RecordSettings, tick: Double, seed: UInt64) {
        self.meterId = meterId
        self.number = number
        self.start = start
        self.records = records
        self.tick = tick > 0 && tick.isFinite ? tick : 1
        self.seed = seed
    }

    public var sessionId: String { "S-\(meterId)-\(number)" }

    public var isRunning: Bool { end == nil }

    /// Whether the session overlaps [from, to] (either side open when nil), a running one up to `now`.
    public func overlaps(from: Double?, to: Double?, now: Double) -> Bool {
        if let to, start > to { return false }
        if let from, (end ?? now) < from { return false }
        return true
    }

    public static func operatorId(_ index: Int) -> String {
        index < defaultOperators.count ? defaultOperators[index] : "op-\(index + 1)"
    }

    /// Ticks completed by `now` (at least one: a run that ends at once still handled some records).
    func ticks(at now: Double) -> Int {
        let until = min(end ?? now, now)
        guard until > start else { return 1 }
        // Capped as a Double first: converting an out-of-range Double to Int would trap.
        return Int(min(((until - start) / tick).rounded(.down), Double(Self.maxTicks - 1))) + 1
    }

    /// One operator's records by `now`: output, and errors per index into `errorCodes` (at most two).
    public func counts(operator index: Int, at now: Double) -> OperatorRecords {
        let hash = Self.mix(seed ^ (UInt64(truncatingIfNeeded: number) &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(index))
        let perTick = 20 + Int(hash % 80)
        let ticks = ticks(at: now)
        let failingPerTick = Int((Double(perTick) * records.errorRate).rounded())
        var result = OperatorRecords(
            output: (perTick - failingPerTick) * ticks,
            errors: [(Int((hash >> 8) % 3), failingPerTick * ticks)]
        )
        if endStatus?.isFailure == true {
            // The failure itself: a burst of errors of one class, as many as the run had handled.
            result.errors.append((3 + Int((hash >> 16) % 2), perTick * max(5, ticks)))
        }
        result.errors.removeAll { $0.1 == 0 }
        return result
    }

    /// splitmix64's finaliser: spreads nearby seeds far apart.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// An operator's output count and its error counts by error code (an index into `errorCodes`).
public struct OperatorRecords: Sendable {
    public var output: Int
    public var errors: [(code: Int, count: Int)]

    public var errorCount: Int { errors.reduce(0) { $0 + $1.count } }
}
