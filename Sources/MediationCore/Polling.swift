/// Fetches one meter-version's run status. The Zuora client implements it; tests use fakes.
public protocol RunStatusFetching: Sendable {
    func fetchRunStatus(_ key: MeterKey) async -> PollOutcome.Result
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
