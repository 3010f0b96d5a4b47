/// Fetches one meter-version's run status. The Zuora client implements it; tests use fakes.
public protocol RunStatusFetching: Sendable {
    /// The poll's result, and whether a failure concerns this meter-version or the whole tenant. Returns
    /// promptly when the calling task is cancelled (the result is then ignored).
    func fetchRunStatus(_ key: MeterKey) async -> FetchResult
}

/// Whom a failed request says something about.
public enum FaultScope: String, Sendable, Equatable {
    /// This meter-version (its own 404, 500, a decode error, a timeout of its request).
    case meter
    /// Every meter-version alike: the token endpoint failing, 429 or 503 (Zuora asked the tenant to wait),
    /// `ratelimit-remaining: 0`, Zuora unreachable. Polling pauses as one and probes with one request.
    case tenant
}

/// One attempt at polling a meter-version.
public struct FetchResult: Sendable, Equatable {
    public var result: PollOutcome.Result
    /// Meaningful for failures only.
    public var scope: FaultScope

    public init(_ result: PollOutcome.Result, scope: FaultScope = .meter) {
        self.result = result
        self.scope = scope
    }
}
