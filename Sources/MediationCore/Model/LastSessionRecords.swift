/// One summarised session, bounded: at most `max_operators` operator ids and `max_error_codes` error
/// codes, the rest summed under "other".
public struct LastSessionRecords: Sendable, Equatable, Codable {
    public var total: RecordCounts
    public var operators: [String: RecordCounts]
    public var errorCodes: [String: UInt64]
    /// Wall-clock seconds the summary was taken.
    public var takenAt: Double

    public init(_ summary: SessionSummary, takenAt: Double, maxOperators: Int, maxErrorCodes: Int) {
        total = summary.total
        operators = Self.bounded(summary.operators, limit: maxOperators, weight: { $0.output.saturatingAdd($0.error) })
        errorCodes = Self.bounded(summary.errorCodes, limit: maxErrorCodes, weight: { $0 })
        self.takenAt = takenAt
    }

    /// Keeps the `limit` entries with the most records (ties by name), the rest summed under "other"
    /// (with whatever "other" held already).
    static func bounded<Value: Summable>(
        _ entries: [String: Value],
        limit: Int,
        weight: (Value) -> UInt64
    ) -> [String: Value] {
        let other = SessionSummary.otherLabel
        guard entries.count - (entries[other] == nil ? 0 : 1) > limit else { return entries }
        let ranked = entries.filter { $0.key != other }.sorted {
            (weight($1.value), $0.key) < (weight($0.value), $1.key)
        }
        var kept = Dictionary(uniqueKeysWithValues: ranked.prefix(limit).map { ($0.key, $0.value) })
        var rest = entries[other] ?? .zero
        for (_, value) in ranked.dropFirst(limit) { rest = rest.adding(value) }
        kept[other] = rest
        return kept
    }

    /// After a reload lowered the limits.
    mutating func rebound(maxOperators: Int, maxErrorCodes: Int) {
        operators = Self.bounded(operators, limit: maxOperators, weight: { $0.output.saturatingAdd($0.error) })
        errorCodes = Self.bounded(errorCodes, limit: maxErrorCodes, weight: { $0 })
    }
}

/// Counts that can be summed into "other".
protocol Summable {
    static var zero: Self { get }
    func adding(_ other: Self) -> Self
}

extension RecordCounts: Summable {
    static var zero: RecordCounts { RecordCounts() }
    func adding(_ other: RecordCounts) -> RecordCounts { self + other }
}

extension UInt64: Summable {
    func adding(_ other: UInt64) -> UInt64 { saturatingAdd(other) }
}
