public import Logging
import Synchronization

/// What the callout receiver remembers across configuration reloads: recent notification ids (so a
/// retry after a reload is still recognised) and when a callout was last accepted.
public final class CalloutMemory: Sendable {
    fileprivate let seen: Mutex<RecentIds>
    fileprivate let lastAccepted = Mutex<Double?>(nil)
    fileprivate let clock: any MonotonicClock

    public init(capacity: Int, clock: any MonotonicClock = SystemMonotonicClock()) {
        seen = Mutex(RecentIds(capacity: capacity))
        self.clock = clock
    }

    /// A reload may change the window; the ids remembered so far stay (the newest, when it shrank).
    public func resize(to capacity: Int) { seen.withLock { $0.resize(to: capacity) } }

    public func contains(_ id: String) -> Bool { seen.withLock { $0.contains(id) } }

    /// True when a callout was accepted within `window` seconds: the push path is working.
    public func acceptedRecently(within window: Double = 3600) -> Bool {
        guard let last = lastAccepted.withLock({ $0 }) else { return false }
        return clock.now() - last < window
    }
}

/// `POST /webhooks/meter-session-status`: applies a callout to the tracker in memory before answering
/// (Zuora waits at most 25 s and retries on errors), so nothing slow happens on this path. Method,
/// Basic credentials, body size and notification id are judged from the head, before the body is read.
public final class WebhookReceiver: HTTPHandler {
    private let config: WebhookConfig
    private let secrets: WebhookSecrets
    private let hub: StatusHub
    private let metrics: ExporterMetrics
    private let logger: Logger
    private let memory: CalloutMemory
    /// Called with each meter a callout put into a working state, so that polling can confirm it soon.
    private let onActive: @Sendable (MeterKey) -> Void
    /// Whether this replica owns a meter-version (`--shard`): each one is tracked by exactly one replica.
    private let owns: @Sendable (MeterKey) -> Bool

    public init(
        config: WebhookConfig,
        secrets: WebhookSecrets,
        hub: StatusHub,
        metrics: ExporterMetrics,
        logger: Logger,
        memory: CalloutMemory? = nil,
        owns: @escaping @Sendable (MeterKey) -> Bool = { _ in true },
        onActive: @escaping @Sendable (MeterKey) -> Void = { _ in }
    ) {
        self.onActive = onActive
        self.owns = owns
        self.config = config
        self.secrets = secrets
        self.hub = hub
        self.metrics = metrics
        self.logger = logger
        self.memory = memory ?? CalloutMemory(capacity: config.dedupWindow)
        metrics.enableWebhookSeries()
    }

    public func admit(_ head: HTTPRequest) -> Admission {
        if let refusal = refusal(head) { return .refuse(refusal) }
        // Digits beyond UInt64 are a body over the limit too.
        if let length = head.header("Content-Length"), !length.isEmpty,
            length.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            UInt64(length).map({ $0 > config.maxBodyBytes }) ?? true
        {
            metrics.recordWebhook(.invalid)
            return .refuse(Self.error(413, "body over \(config.maxBodyBytes) bytes"))
        }
        return .proceed(maxBodyBytes: config.maxBodyBytes)
    }

    /// What can be refused from the head alone: method, Basic credentials, the notification id's length.
    private func refusal(_ request: HTTPRequest) -> HTTPResponse? {
        guard request.method == "POST" else {
            metrics.recordWebhook(.invalid)
            var response = Self.error(405, "use POST")
            response.headers.append(("Allow", "POST"))
            return response
        }
        if let refusal = authenticateBasic(request) {
            metrics.recordWebhook(.unauthorized)
            return refusal
        }
        if let id = request.header("Zuora-Notification-Id"), id.utf8.count > CalloutBody.Limits.notificationId {
            metrics.recordWebhook(.invalid)
            return Self.error(400, "Zuora-Notification-Id is longer than \(CalloutBody.Limits.notificationId) bytes")
        }
        return nil
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        // Checked again: `handle` must be safe to call without `admit` (the checks are cheap).
        if let refusal = refusal(request) { return refusal }
        if let refusal = authenticateSignature(request) {
            metrics.recordWebhook(.unauthorized)
            return refusal
        }
        guard request.body.count <= config.maxBodyBytes else {
            metrics.recordWebhook(.invalid)
            return Self.error(413, "body over \(config.maxBodyBytes) bytes")
        }
        let notificationId = request.header("Zuora-Notification-Id").flatMap { $0.isEmpty ? nil : $0 }
        if let notificationId, memory.contains(notificationId) {
            metrics.recordWebhook(.duplicate)
            return .json(200, #"{"result":"duplicate"}"#)
        }
        let event: StatusEvent
        switch CalloutBody.parse(request.body) {
        case .failure(let problem):
            metrics.recordWebhook(.invalid)
            logger.info("refused a malformed callout", metadata: ["error": "\(problem)"])
            return Self.error(400, problem.description)
        case .success(let parsed):
            event = parsed
        }
        guard owns(event.key) else {
            // Tracking it here too would give the meter a second set of series; its owner polls it.
            // 200: a retry would come to the same answer.
            metrics.recordWebhook(.otherShard)
            logger.debug(
                "ignored a callout for a meter another shard owns",
                metadata: ["meter_id": "\(event.key.meterId)", "version": "\(event.key.version)"]
            )
            return .json(200, #"{"result":"other_shard"}"#)
        }
        let (changes, outcome) = hub.record(event, maxDynamicMeters: config.maxDynamicMeters)
        // Remembered only once handled, so that a retry of a refused callout is processed.
        if let notificationId { memory.seen.withLock { $0.insert(notificationId) } }
        for session in changes.endedSessions { metrics.observeSession(session) }
        changes.logTransitions(to: logger, source: "callout")
        switch outcome {
        case .accepted:
            metrics.recordWebhook(.accepted)
            memory.lastAccepted.withLock { $0 = memory.clock.now() }
            if !event.status.isAtRest { onActive(event.key) }
            return .json(200, #"{"result":"accepted"}"#)
        case .stale:
            metrics.recordWebhook(.duplicate)
            return .json(200, #"{"result":"duplicate"}"#)
        case .dropped:
            // 200 all the same: a retry would be dropped again.
            metrics.recordWebhook(.dropped)
            logger.warning(
                "dropped a callout for an unconfigured meter: the dynamic meter limit is reached",
                metadata: ["meter_id": "\(event.key.meterId)", "limit": "\(config.maxDynamicMeters)"]
            )
            return .json(200, #"{"result":"dropped"}"#)
        }
    }

    /// True when a callout was accepted within `window` seconds: the push path is working.
    public func receivedRecently(within window: Double = 3600) -> Bool { memory.acceptedRecently(within: window) }

    /// Nil when the Basic credentials (if configured) are right, else the challenge.
    private func authenticateBasic(_ request: HTTPRequest) -> HTTPResponse? {
        if let basic = config.basicAuth, let password = secrets.basicPassword {
            let given = Signatures.basicCredentials(request.header("Authorization"))
            // Both comparisons always run, so timing does not tell which one failed.
            let userOK = Signatures.constantTimeEqual(given?.user ?? [], Array(basic.username.utf8))
            let passwordOK = Signatures.constantTimeEqual(given?.password ?? [], password)
            guard given != nil, userOK, passwordOK else {
                // Zuora first calls without credentials and sends them after this challenge.
                var response = Self.error(401, "authentication required")
                response.headers.append(("WWW-Authenticate", #"Basic realm="zuora-mediation-exporter""#))
                return response
            }
        }
        return nil
    }

    /// Nil when the body's signature (if configured) is right, else the refusal.
    private func authenticateSignature(_ request: HTTPRequest) -> HTTPResponse? {
        if let hmac = config.hmac, let key = secrets.hmacKey {
            let expected = Signatures.hmacSHA256(key: key, message: request.body)
            let given = request.header(hmac.header).flatMap { Signatures.decode($0, encoding: hmac.encoding) } ?? []
            guard Signatures.constantTimeEqual(given, expected) else {
                return Self.error(401, "missing or wrong \(hmac.header) signature")
            }
        }
        return nil
    }

    static func error(_ status: Int, _ message: String) -> HTTPResponse {
        .json(status, #"{"error":\#(TextEscaping.json(message))}"#)
    }
}
