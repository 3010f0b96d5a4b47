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
