import MediationCore

/// Holds the OAuth access token. Concurrent polls share one token and one in-flight fetch; a failed
/// fetch makes callers fail fast for a growing while, so a dead token endpoint is not hammered.
actor TokenSource {
    typealias FetchResult = Result<(token: String, policy: TokenPolicy), TokenFailure>

    private var credentials: ZuoraCredentials
    private var current: (token: String, policy: TokenPolicy)?
    private var inFlight: Task<FetchResult, Never>?
    private var consecutiveFailures = 0
    private var lastFailure: (message: String, retryAt: Double)?

    init(credentials: ZuoraCredentials) {
        self.credentials = credentials
    }

    func replaceCredentials(_ new: ZuoraCredentials, force: Bool = false) {
        guard force || new != credentials else { return }
        credentials = new
        current = nil
        lastFailure = nil
        consecutiveFailures = 0
    }

    /// Forgets `token` after Zuora refused it, unless a newer one already replaced it.
    func invalidate(_ token: String) {
        if current?.token == token { current = nil }
    }

    func token(fetch: @escaping @Sendable (ZuoraCredentials) async -> FetchResult) async -> Result<String, TokenFailure>
    {
        let now = Clock.now()
        if let current, !current.policy.needsRefresh(now: now) { return .success(current.token) }
        if let lastFailure, now < lastFailure.retryAt {
            return .failure(
                TokenFailure(
                    message: "\(lastFailure.message); next token attempt in "
                        + "\(DurationText.format(lastFailure.retryAt - now))"
                )
            )
        }
        let task: Task<FetchResult, Never>
        if let inFlight {
            task = inFlight
        } else {
            let credentials = self.credentials
            task = Task { await fetch(credentials) }
            inFlight = task
        }
        let result = await task.value
        if inFlight == task {
            inFlight = nil
            switch result {
            case .success(let fresh):
                current = fresh
                consecutiveFailures = 0
                lastFailure = nil
            case .failure(let failure):
                consecutiveFailures += 1
                let wait = backoffDelay(failures: consecutiveFailures, base: 1, cap: 60)
                lastFailure = (failure.message, Clock.now() + wait)
            }
        }
        return result.map(\.token)
    }
}
