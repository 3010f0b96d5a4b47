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

/// OAuth client credentials. Never printed: `description` hides them, so interpolating one into a log
/// line or an error message cannot leak the secret.
public struct ZuoraCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let clientId: String
    public let clientSecret: String

    public init(clientId: String, clientSecret: String) {
        self.clientId = clientId
        self.clientSecret = clientSecret
    }

    public var description: String { "ZuoraCredentials(<redacted>)" }
    public var debugDescription: String { description }
}

/// When to fetch a new access token: ahead of expiry (Zuora's own sample refreshes 300 s early; short
/// lifetimes, as the simulator can give, refresh at 80 % of their life) and after a 401.
public struct TokenPolicy: Sendable, Equatable {
    public let fetchedAt: Double
    public let expiresAt: Double

    public init(fetchedAt: Double, lifetime: Double) {
        self.fetchedAt = fetchedAt
        self.expiresAt = fetchedAt + lifetime
    }

    public var refreshAt: Double { expiresAt - min(300, (expiresAt - fetchedAt) * 0.2) }

    public func needsRefresh(now: Double) -> Bool { now >= refreshAt }
}

/// How long to wait before the next attempt after `failures` consecutive failures: exponential,
/// capped. With `jitter` in 0..<1 (full jitter) the wait is drawn from 0...the exponential value.
public func backoffDelay(failures: Int, base: Double, cap: Double, jitter: Double? = nil) -> Double {
    guard failures > 0 else { return 0 }
    let exponential = min(cap, base * Double(1 << min(failures - 1, 30)))
    guard let jitter else { return exponential }
    return exponential * jitter
}
