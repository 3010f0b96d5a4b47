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
