public import Logging
import Synchronization

/// Secrets of the callout receiver, read from their files at start-up.
public struct WebhookSecrets: Sendable {
    public var basicPassword: [UInt8]?
    public var hmacKey: [UInt8]?

    public init(basicPassword: [UInt8]?, hmacKey: [UInt8]?) {
        self.basicPassword = basicPassword
        self.hmacKey = hmacKey
    }
}

/// `POST /webhooks/meter-session-status`: applies a callout to the tracker in memory before answering
/// (Zuora waits at most 25 s and retries on errors), so nothing slow happens on this path.
public final class WebhookReceiver: HTTPHandler {
    private let config: WebhookConfig
    private let secrets: WebhookSecrets
    private let hub: StatusHub
    private let metrics: ExporterMetrics
    private let logger: Logger
    private let seen: Mutex<RecentIds>
    private let lastAccepted = Mutex(0.0)
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
        self.seen = Mutex(RecentIds(capacity: config.dedupWindow))
        metrics.enableWebhookSeries()
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        guard request.method == "POST" else {
            metrics.recordWebhook(.invalid)
            var response = Self.error(405, "use POST")
            response.headers.append(("Allow", "POST"))
            return response
        }
        if let refusal = authenticate(request) {
            metrics.recordWebhook(.unauthorized)
            return refusal
        }
        guard request.body.count <= config.maxBodyBytes else {
            metrics.recordWebhook(.invalid)
            return Self.error(413, "body over \(config.maxBodyBytes) bytes")
        }
        let notificationId = request.header("Zuora-Notification-Id").flatMap { $0.isEmpty ? nil : $0 }
        if let notificationId, seen.withLock({ $0.contains(notificationId) }) {
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
        if let notificationId { seen.withLock { $0.insert(notificationId) } }
        for session in changes.endedSessions { metrics.observeSession(session) }
        changes.logTransitions(to: logger, source: "callout")
        switch outcome {
        case .accepted:
            metrics.recordWebhook(.accepted)
            lastAccepted.withLock { $0 = Clock.now() }
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
    public func receivedRecently(within window: Double = 3600) -> Bool {
        Clock.now() - lastAccepted.withLock { $0 } < window
    }

    /// Nil when the request may pass, else the answer that refuses it.
    private func authenticate(_ request: HTTPRequest) -> HTTPResponse? {
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

/// A bounded set of recent ids: the oldest is forgotten when a new one does not fit.
struct RecentIds {
    private var order: [String] = []
    private var head = 0
    private var members: Set<String> = []
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func contains(_ id: String) -> Bool { members.contains(id) }

    mutating func insert(_ id: String) {
        guard !members.contains(id) else { return }
        if order.count < capacity {
            order.append(id)
        } else {
            members.remove(order[head])
            order[head] = id
            head = (head + 1) % capacity
        }
        members.insert(id)
    }
}
