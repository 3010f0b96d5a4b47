public import Logging
public import MediationCore
import Synchronization

/// The exporter's view of the Zuora REST API: an OAuth token kept fresh, and `runStatus` requests.
public final class ZuoraAPIClient: RunStatusFetching {
    public struct Settings: Sendable, Equatable {
        public var baseURL: String
        public var entityIds: String?
        public var orgIds: String?
        public var trackId: String?
        public var timeout: Double

        public init(_ zuora: ExporterConfig.Zuora) {
            baseURL = zuora.baseURL
            entityIds = zuora.entityIds
            orgIds = zuora.orgIds
            trackId = zuora.trackId
            timeout = zuora.timeout
        }
    }

    private let settings: Mutex<Settings>
    private let transport: CurlTransport
    private let tokens: TokenSource
    private let gate: RequestGate
    private let metrics: ExporterMetrics
    private let logger: Logger

    static let capturedHeaders = ["zuora-request-id", "retry-after", "ratelimit-remaining", "ratelimit-reset"]

    public init(
        settings: Settings,
        credentials: ZuoraCredentials,
        tls: TLSSettings,
        budget: BudgetLimits = BudgetLimits(),
        maxConcurrency: Int = 4,
        metrics: ExporterMetrics,
        logger: Logger,
        userAgent: String
    ) {
        self.gate = RequestGate(limits: budget, metrics: metrics)
        self.settings = Mutex(settings)
        self.transport = CurlTransport(
            tls: tls,
            userAgent: userAgent,
            capturedHeaders: Self.capturedHeaders,
            slots: maxConcurrency
        )
        self.metrics = metrics
        self.logger = logger
        self.tokens = TokenSource(credentials: credentials)
    }

    /// Takes new settings, credentials and budget (configuration reload). A change of credentials or of
    /// base URL drops the cached token.
    public func update(
        settings newSettings: Settings,
        credentials: ZuoraCredentials,
        budget: BudgetLimits,
        maxConcurrency: Int
    ) async {
        if maxConcurrency > transport.slots { transport.addSlots(maxConcurrency - transport.slots) }
        let baseChanged = settings.withLock { current in
            defer { current = newSettings }
            return current.baseURL != newSettings.baseURL
        }
        gate.update(limits: budget)
        await tokens.replaceCredentials(credentials, force: baseChanged)
    }

    public func fetchRunStatus(_ key: MeterKey) async -> FetchResult {
        FetchResult(await runStatus(key))
    }

    private func runStatus(_ key: MeterKey) async -> PollOutcome.Result {
        let settings = self.settings.withLock { $0 }
        var retriedAfter401 = false
        while true {
            let token: String
            switch await tokens.token(fetch: { credentials in await self.fetchToken(credentials, settings: settings) })
            {
            case .success(let current): token = current
            case .failure(let failure): return .failure(.auth, message: failure.message)
            }
            let url = "\(settings.baseURL)/meters/\(key.meterId)/\(PathEncoding.segment(key.version))/runStatus"
            var headers = [
                "Authorization: Bearer \(token)", "Content-Type: application/json", "Accept: application/json",
            ]
            if let entity = settings.entityIds { headers.append("Zuora-Entity-Ids: \(entity)") }
            if let org = settings.orgIds { headers.append("Zuora-Org-Ids: \(org)") }
            if let track = settings.trackId { headers.append("Zuora-Track-Id: \(track)") }
            await gate.acquire()
            let result = await transport.perform(
                CurlRequest(method: "GET", url: url, headers: headers, timeout: settings.timeout)
            )
            switch result {
            case .failure(let failure):
                metrics.recordRequest(.runStatus, code: 0, seconds: 0)
                return Self.outcome(of: failure)
            case .success(let response):
                metrics.recordRequest(.runStatus, code: response.status, seconds: response.seconds)
                gate.observe(response)
                if response.status == 401, !retriedAfter401 {
                    // An expired or revoked token: get a new one and try this request once more.
                    retriedAfter401 = true
                    await tokens.invalidate(token)
                    continue
                }
                return Self.outcome(of: response)
            }
        }
    }

    static func outcome(of failure: CurlFailure) -> PollOutcome.Result {
        switch failure {
        case .timeout(let detail): .failure(.timeout, message: detail)
        case .network(let detail): .failure(.network, message: detail)
        case .bodyTooLarge(let limit): .failure(.decode, message: "response body over \(limit) bytes")
        case .badEncoding(let detail): .failure(.decode, message: detail)
        }
    }

    static func outcome(of response: CurlResponse) -> PollOutcome.Result {
        let requestId = response.headers["zuora-request-id"].map { " (Zuora-Request-Id \($0))" } ?? ""
        guard response.status == 200 else {
            let detail = ZuoraResponses.errorSummary(from: response.body) ?? "no error details in the body"
            return .failure(
                PollErrorReason.forHTTPStatus(response.status),
                message: "HTTP \(response.status): \(detail)\(requestId)"
            )
        }
        switch ZuoraResponses.runStatus(from: response.body) {
        case .success(let status): return .status(status)
        case .failure(let problem): return .failure(.decode, message: "\(problem)\(requestId)")
        }
    }

    private func fetchToken(_ credentials: ZuoraCredentials, settings: Settings) async -> TokenSource.FetchResult {
        let form = [
            ("client_id", credentials.clientId), ("client_secret", credentials.clientSecret),
            ("grant_type", "client_credentials"),
        ].map { "\($0)=\(PathEncoding.formValue($1))" }.joined(separator: "&")
        let request = CurlRequest(
            method: "POST",
            url: "\(settings.baseURL)/oauth/token",
            headers: ["Content-Type: application/x-www-form-urlencoded", "Accept: application/json"],
            body: Array(form.utf8),
            timeout: settings.timeout
        )
        await gate.acquire()
        let now = Clock.now()
        switch await transport.perform(request) {
        case .failure(let failure):
            metrics.recordRequest(.token, code: 0, seconds: 0)
            logger.warning("Zuora token request failed", metadata: ["error": "\(failure)"])
            return .failure(TokenFailure(message: "token request failed: \(failure)"))
        case .success(let response):
            metrics.recordRequest(.token, code: response.status, seconds: response.seconds)
            gate.observe(response)
            let requestId = response.headers["zuora-request-id"] ?? ""
            guard (200..<300).contains(response.status) else {
                // The body of a failed token request is undocumented; report the status, never the form.
                logger.warning(
                    "Zuora rejected the token request; check the client id and secret",
                    metadata: ["status": "\(response.status)", "zuora_request_id": "\(requestId)"]
                )
                return .failure(TokenFailure(message: "token request answered HTTP \(response.status)"))
            }
            switch ZuoraResponses.token(from: response.body) {
            case .failure(let problem):
                return .failure(TokenFailure(message: "token response unusable: \(problem)"))
            case .success(let token):
                let policy = TokenPolicy(fetchedAt: now, lifetime: token.expiresIn)
                metrics.setTokenExpiry(policy.expiresAt)
                logger.debug("fetched a Zuora access token", metadata: ["expires_in": "\(token.expiresIn)"])
                return .success((token.token, policy))
            }
        }
    }
}

struct TokenFailure: Error, Sendable {
    let message: String
}
