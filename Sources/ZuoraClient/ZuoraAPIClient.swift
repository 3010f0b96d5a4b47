public import Logging
public import MediationCore
import Synchronization

/// The exporter's view of the Zuora REST API: an OAuth token kept fresh, `runStatus` requests, and
/// session summaries (`ZuoraAPIClient+Summary`).
public final class ZuoraAPIClient: RunStatusFetching, SummaryFetching {
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

        init(baseURL: String, timeout: Double) {
            self.baseURL = baseURL
            self.timeout = timeout
        }
    }

    let settings: Mutex<Settings>
    private let transport: any HTTPTransport
    private let tokens: TokenSource
    private let gate: RequestGate
    private let metrics: ExporterMetrics
    private let clock: any MonotonicClock
    let pollReserve = Mutex(0)

    static let capturedHeaders = ["zuora-request-id", "retry-after", "ratelimit-remaining", "ratelimit-reset"]

    /// `clock` times waits, back-offs and token lifetimes; `wallClock` only the shown token expiry.
    public convenience init(
        settings: Settings,
        credentials: ZuoraCredentials,
        tls: TLSSettings,
        budget: BudgetLimits = BudgetLimits(),
        maxConcurrency: Int = 4,
        metrics: ExporterMetrics,
        logger: Logger,
        userAgent: String,
        clock: any MonotonicClock = SystemMonotonicClock(),
        wallClock: any WallClock = SystemWallClock()
    ) {
        let transport = CurlTransport(
            tls: tls,
            userAgent: userAgent,
            capturedHeaders: Self.capturedHeaders,
            slots: maxConcurrency
        )
        self.init(
            settings: settings,
            credentials: credentials,
            transport: transport,
            budget: budget,
            metrics: metrics,
            logger: logger,
            clock: clock,
            wallClock: wallClock
        )
    }

    /// With any transport (tests pass a fake).
    init(
        settings: Settings,
        credentials: ZuoraCredentials,
        transport: any HTTPTransport,
        budget: BudgetLimits = BudgetLimits(),
        metrics: ExporterMetrics,
        logger: Logger,
        clock: any MonotonicClock,
        wallClock: any WallClock
    ) {
        self.gate = RequestGate(limits: budget, metrics: metrics, clock: clock)
        self.settings = Mutex(settings)
        self.transport = transport
        self.metrics = metrics
        self.clock = clock
        self.tokens = TokenSource(credentials: credentials, clock: clock, logger: logger) { fresh in
            // Shown as a Unix timestamp: the remaining lifetime measured on the monotonic clock, from now.
            metrics.setTokenExpiry(wallClock.now() + (fresh.policy.expiresAt - clock.now()))
        }
    }

    /// Takes new settings, credentials and budget (configuration reload); all are in force when this
    /// returns. A change of credentials or of base URL drops the cached token, and a token being fetched
    /// with the old ones is discarded. The budget keeps what it counted; only its caps change.
    public func update(
        settings newSettings: Settings,
        credentials: ZuoraCredentials,
        budget: BudgetLimits,
        maxConcurrency: Int
    ) {
        if let curl = transport as? CurlTransport, maxConcurrency > curl.slots {
            curl.addSlots(maxConcurrency - curl.slots)
        }
        let baseChanged = settings.withLock { current in
            defer { current = newSettings }
            return current.baseURL != newSettings.baseURL
        }
        gate.update(limits: budget)
        tokens.replaceCredentials(credentials, force: baseChanged)
    }

    public func fetchRunStatus(_ key: MeterKey) async -> FetchResult {
        let base = settings.withLock { $0.baseURL }
        let url = "\(base)/meters/\(key.meterId)/\(PathEncoding.segment(key.version))/runStatus"
        switch await send(.runStatus, method: "GET", url: url) {
        case .failed(let failure): return failure
        case .answered(let response): return ZuoraFaults.result(of: response)
        }
    }

    /// Requests left in each budget window for polls when a summary asks: one poll of each of this
    /// replica's meter-versions (`RequestBudget.reserve(now:keeping:)`). Set with the configuration.
    public func setPollReserve(_ requests: Int) { pollReserve.withLock { $0 = max(0, requests) } }

    /// One request to the API with the current token, through the gate; a 401 gets a fresh token and one
    /// retry. Counted in the request metrics under `endpoint`; `keeping` as for `RequestGate.acquire`.
    func send(
        _ endpoint: APIEndpoint,
        method: String,
        url: String,
        body: [UInt8]? = nil,
        keeping: Int = 0,
        maxBodyBytes: Int = 1 << 20
    ) async -> Sent {
        var retriedAfter401 = false
        while true {
            let settings = self.settings.withLock { $0 }
            let token: String
            switch await tokens.token(fetch: { [self] credentials in await fetchToken(credentials) }) {
            case .success(let current): token = current
            // No token, no request for any meter: a tenant fault.
            case .failure(let failure):
                return .failed(FetchResult(.failure(failure.reason, message: failure.message), scope: .tenant))
            }
            var headers = [
                "Authorization: Bearer \(token)", "Content-Type: application/json", "Accept: application/json",
            ]
            if let entity = settings.entityIds { headers.append("Zuora-Entity-Ids: \(entity)") }
            if let org = settings.orgIds { headers.append("Zuora-Org-Ids: \(org)") }
            if let track = settings.trackId { headers.append("Zuora-Track-Id: \(track)") }
            do {
                try await gate.acquire(keeping: keeping)
            } catch {
                return .failed(ZuoraFaults.result(of: CurlFailure(.cancelled, "cancelled before it was sent")))
            }
            var request = CurlRequest(method: method, url: url, headers: headers, body: body, timeout: settings.timeout)
            request.maxBodyBytes = maxBodyBytes
            switch await transport.perform(request) {
            case .failure(let failure):
                metrics.recordRequest(endpoint, code: 0, seconds: failure.seconds)
                return .failed(ZuoraFaults.result(of: failure))
            case .success(let response):
                metrics.recordRequest(endpoint, code: response.status, seconds: response.seconds)
                gate.observe(response)
                if response.status == 401, !retriedAfter401 {
                    // An expired or revoked token: get a new one and try this request once more.
                    retriedAfter401 = true
                    tokens.invalidate(token)
                    continue
                }
                return .answered(response)
            }
        }
    }

    /// What `send` got: an answer (any status), or a failure already classified.
    enum Sent {
        case answered(CurlResponse)
        case failed(FetchResult)
    }

    private func fetchToken(_ credentials: ZuoraCredentials) async -> Result<FetchedToken, TokenFailure> {
        let settings = self.settings.withLock { $0 }
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
        do { try await gate.acquire() } catch { return .failure(.cancelled) }
        // The lifetime counts from before the request: the token is refreshed a little early, never late.
        let sentAt = clock.now()
        switch await transport.perform(request) {
        case .failure(let failure):
            metrics.recordRequest(.token, code: 0, seconds: failure.seconds)
            return .failure(ZuoraFaults.tokenFailure(of: failure))
        case .success(let response):
            metrics.recordRequest(.token, code: response.status, seconds: response.seconds)
            gate.observe(response)
            return ZuoraFaults.token(from: response, fetchedAt: sentAt)
        }
    }
}
