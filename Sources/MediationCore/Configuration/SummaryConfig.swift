import Yams

/// The `summary:` section: record counts of ended sessions from Zuora's summary API, and the bounds on
/// operator ids and error codes kept per meter-version (for summaries and periodic snapshots alike).
public struct SummaryConfig: Sendable, Equatable {
    /// Off unless asked for: every ended run costs a request.
    public var enabled = false
    public var maxOperators = 20
    public var maxErrorCodes = 20
    /// Tries per ended session (the first and its retries), then given up.
    public var maxAttempts = 4

    public init(enabled: Bool = false, maxOperators: Int = 20, maxErrorCodes: Int = 20, maxAttempts: Int = 4) {
        self.enabled = enabled
        self.maxOperators = maxOperators
        self.maxErrorCodes = maxErrorCodes
        self.maxAttempts = maxAttempts
    }

    static func parse(_ node: ConfigNode) throws(ConfigError) -> SummaryConfig {
        // `summary:` with nothing under it: the defaults (off).
        if case .scalar = node.node, node.node.tag.rawValue == Tag.Name.null.rawValue { return SummaryConfig() }
        let entries = try node.mapping(allowed: ["enabled", "max_operators", "max_error_codes", "max_attempts"])
        var config = SummaryConfig()
        if let enabled = entries["enabled"] { config.enabled = try enabled.bool() }
        if let limit = entries["max_operators"] { config.maxOperators = try limit.int(in: 1...1000) }
        if let limit = entries["max_error_codes"] { config.maxErrorCodes = try limit.int(in: 1...1000) }
        if let attempts = entries["max_attempts"] { config.maxAttempts = try attempts.int(in: 1...10) }
        return config
    }

    /// The line `--config.check` prints when summaries are on.
    public var costLine: String {
        "summary: at most one summary request per ended run of a watched meter-version (plus up to "
            + "\(maxAttempts - 1) retries of a failed one: summary.max_attempts is \(maxAttempts))"
    }
}
