/// What Zuora's summary API says one ended session produced: in all, per operator id and per error code.
/// Not bounded when decoded (a 16 MiB answer can hold a few hundred thousand groups): `bounded` keeps
/// `max_operators` / `max_error_codes` of them and sums the rest into "other", before the tracker's lock.
public struct SessionSummary: Sendable, Equatable {
    public var total = RecordCounts()
    /// By operator id; groups without one under `unknownLabel`.
    public var operators: [String: RecordCounts] = [:]
    /// Error records by error code; groups with errors and no code under `unknownLabel`.
    public var errorCodes: [String: UInt64] = [:]

    public init(
        total: RecordCounts = RecordCounts(),
        operators: [String: RecordCounts] = [:],
        errorCodes: [String: UInt64] = [:]
    ) {
        self.total = total
        self.operators = operators
        self.errorCodes = errorCodes
    }

    /// The same session within the limits: the operators and error codes with the most records, the rest
    /// summed into "other". Ranking a large answer takes a while, so it happens outside the tracker's lock.
    public func bounded(maxOperators: Int, maxErrorCodes: Int) -> SessionSummary {
        let operators = LastSessionRecords.bounded(
            operators,
            limit: maxOperators,
            weight: { $0.output.saturatingAdd($0.error) }
        )
        let errorCodes = LastSessionRecords.bounded(errorCodes, limit: maxErrorCodes, weight: { $0 })
        return SessionSummary(total: total, operators: operators, errorCodes: errorCodes)
    }

    /// The label for a group that names no operator or no error code.
    public static let unknownLabel = "unknown"
    /// The label everything beyond the configured limits is summed into.
    public static let otherLabel = "other"
    /// Longer operator ids and error codes are summed into "other" rather than becoming label values.
    public static let maxLabelBytes = 128

    /// Adds one group of the answer.
    public mutating func add(operatorId: String?, errorCode: String?, counts: RecordCounts) {
        total = total + counts
        let name = Self.label(operatorId)
        operators[name] = (operators[name] ?? RecordCounts()) + counts
        if errorCode != nil || counts.error > 0 {
            let code = Self.label(errorCode)
            errorCodes[code] = (errorCodes[code] ?? 0).saturatingAdd(counts.error)
        }
    }

    /// The label value for an id from outside: "unknown" when absent or empty, "other" when too long.
    static func label(_ id: String?) -> String {
        guard let id, !id.isEmpty else { return unknownLabel }
        return id.utf8.count > maxLabelBytes ? otherLabel : id
    }
}

extension UInt64 {
    func saturatingAdd(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }

    func saturatingSubtract(_ other: UInt64) -> UInt64 { self > other ? self - other : 0 }
}
