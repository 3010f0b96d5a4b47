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

    /// The ids remembered, oldest first, for `--storage.path`.
    public func notificationIds() -> [String] { seen.withLock { $0.oldestFirst } }

    /// Brings back ids saved before a restart (oldest first), so that a retry after the restart is still
    /// recognised. Ids a callout could not carry are skipped; the newest that fit the window stay.
    public func restore(notificationIds ids: [String]) {
        seen.withLock { seen in
            for id in ids where !id.isEmpty && id.utf8.count <= CalloutBody.Limits.notificationId {
                seen.insert(id)
            }
        }
    }

    /// True when a callout was accepted within `window` seconds: the push path is working.
    public func acceptedRecently(within window: Double = 3600) -> Bool {
        guard let last = lastAccepted.withLock({ $0 }) else { return false }
        return clock.now() - last < window
    }
}

/// `POST /webhooks/meter-session-status` (status changes) and `POST /webhooks/meter-session-periodic-status`
/// (periodic snapshots): applies a callout to the tracker in memory before answering (Zuora waits at most
/// 25 s and retries on errors), so nothing slow happens on this path. Method, Basic credentials, body size
/// and notification id are judged from the head, before the body is read. Both paths share everything:
/// authentication, limits, shard ownership and forwarding, and one de-duplication window of
/// `Zuora-Notification-Id`s (Zuora's ids are unique per notification, whichever the event).
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
    /// Where a callout for another shard's meter-version goes (`--shard.peer-url-template`); nil: answered
    /// `other_shard` and left to the owner's polling.
    private let forwarding: PeerForwarding?

    public init(
        config: WebhookConfig,
        secrets: WebhookSecrets,
        hub: StatusHub,
        metrics: ExporterMetrics,
        logger: Logger,
        memory: CalloutMemory? = nil,
        owns: @escaping @Sendable (MeterKey) -> Bool = { _ in true },
        forwarding: PeerForwarding? = nil,
        onActive: @escaping @Sendable (MeterKey) -> Void = { _ in }
    ) {
        self.onActive = onActive
        self.owns = owns
        self.forwarding = forwarding
        self.config = config
        self.secrets = secrets
        self.hub = hub
        self.metrics = metrics
        self.logger = logger
        self.memory = memory ?? CalloutMemory(capacity: config.dedupWindow)
        metrics.enableWebhookSeries()
        if forwarding != nil { metrics.enableForwardSeries() }
    }

    /// Which callout a request is, by its path.
    private func event(of request: HTTPRequest) -> WebhookEvent {
        request.path == config.periodicPath ? .periodicStatus : .statusChange
    }

    public func admit(_ head: HTTPRequest) -> Admission {
        if let refusal = refusal(head) { return .refuse(refusal) }
        // Digits beyond UInt64 are a body over the limit too.
        if let length = head.header("Content-Length"), !length.isEmpty,
            length.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            UInt64(length).map({ $0 > config.maxBodyBytes }) ?? true
        {
            metrics.recordWebhook(.invalid, event: event(of: head))
            return .refuse(Self.error(413, "body over \(config.maxBodyBytes) bytes"))
        }
        return .proceed(maxBodyBytes: config.maxBodyBytes)
    }

    /// What can be refused from the head alone: method, Basic credentials, the notification id's length.
    private func refusal(_ request: HTTPRequest) -> HTTPResponse? {
        let kind = event(of: request)
        guard request.method == "POST" else {
            metrics.recordWebhook(.invalid, event: kind)
            var response = Self.error(405, "use POST")
            response.headers.append(("Allow", "POST"))
            return response
        }
        // A forward from another replica is authenticated by its signature, checked with the body in `handle`.
        if request.header(PeerForwarding.header) != nil {
            guard forwarding != nil else {
                metrics.recordWebhook(.unauthorized, event: kind)
                return Self.error(401, "forwarded callouts are not accepted: no --shard.peer-secret-file")
            }
        } else if let refusal = authenticateBasic(request) {
            metrics.recordWebhook(.unauthorized, event: kind)
            return refusal
        }
        if let id = request.header("Zuora-Notification-Id"), id.utf8.count > CalloutBody.Limits.notificationId {
            metrics.recordWebhook(.invalid, event: kind)
            return Self.error(400, "Zuora-Notification-Id is longer than \(CalloutBody.Limits.notificationId) bytes")
        }
        return nil
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        // Checked again: `handle` must be safe to call without `admit` (the checks are cheap).
        if let refusal = refusal(request) { return refusal }
        let kind = event(of: request)
        let forwarded = request.header(PeerForwarding.header) != nil
        if forwarded, forwarding?.verifies(request) != true {
            metrics.recordWebhook(.unauthorized, event: kind)
            return Self.error(401, "wrong \(PeerForwarding.header): check --shard.peer-secret-file on every replica")
        }
        if let refusal = authenticateSignature(request) {
            metrics.recordWebhook(.unauthorized, event: kind)
            return refusal
        }
        guard request.body.count <= config.maxBodyBytes else {
            metrics.recordWebhook(.invalid, event: kind)
            return Self.error(413, "body over \(config.maxBodyBytes) bytes")
        }
        let notificationId = request.header("Zuora-Notification-Id").flatMap { $0.isEmpty ? nil : $0 }
        if let notificationId, memory.contains(notificationId) {
            metrics.recordWebhook(.duplicate, event: kind)
            return .json(200, #"{"result":"duplicate"}"#)
        }
        let parsed: Result<Callout, CalloutProblem> =
            kind == .periodicStatus
            ? PeriodicBody.parse(request.body).map(Callout.periodic)
            : CalloutBody.parse(request.body).map(Callout.status)
        let callout: Callout
        switch parsed {
        case .failure(let problem):
            metrics.recordWebhook(.invalid, event: kind)
            logger.info("refused a malformed callout", metadata: ["error": "\(problem)", "event": "\(kind.rawValue)"])
            return Self.error(400, problem.description)
        case .success(let value):
            callout = value
        }
        guard owns(callout.key) else {
            if forwarded {
                // Never forwarded twice: replicas that disagree on the shards could bounce it forever.
                metrics.recordWebhook(.misdirected, event: kind)
                let message =
                    "forwarded to a replica that does not own meter \(callout.key.meterId) version "
                    + "\(callout.key.version); do all replicas have the same --total-shards?"
                return Self.error(421, message)
            }
            if let forwarding { return forward(request, key: callout.key, forwarding) }
            // Tracking it here too would give the meter a second set of series; its owner polls it.
            // 200: a retry would come to the same answer.
            metrics.recordWebhook(.otherShard, event: kind)
            logger.debug(
                "ignored a callout for a meter another shard owns",
                metadata: ["meter_id": "\(callout.key.meterId)", "version": "\(callout.key.version)"]
            )
            return .json(200, #"{"result":"other_shard"}"#)
        }
        let outcome: EventOutcome
        let active: Bool
        switch callout {
        case .status(let event):
            let (changes, result) = hub.record(event, maxDynamicMeters: config.maxDynamicMeters)
            for session in changes.endedSessions { metrics.observeSession(session) }
            changes.logTransitions(to: logger, source: "callout")
            outcome = result
            active = !event.status.isAtRest
        case .periodic(let event):
            (_, outcome) = hub.record(event, maxDynamicMeters: config.maxDynamicMeters)
            // A session runs: when the tracker has not seen it start, polling confirms it soon.
            active = hub.state(of: event.key)?.status?.isAtRest != false
        }
        // Remembered only once handled, so that a retry of a refused callout is processed.
        if let notificationId { memory.seen.withLock { $0.insert(notificationId) } }
        switch outcome {
        case .accepted:
            metrics.recordWebhook(.accepted, event: kind)
            // Only status changes stand in for polls of meters at rest (webhook_idle_poll_interval):
            // snapshots arriving say nothing about whether status-change callouts are set up and working.
            if kind == .statusChange { memory.lastAccepted.withLock { $0 = memory.clock.now() } }
            if active { onActive(callout.key) }
            return .json(200, #"{"result":"accepted"}"#)
        case .stale:
            metrics.recordWebhook(.duplicate, event: kind)
            return .json(200, #"{"result":"duplicate"}"#)
        case .dropped:
            // 200 all the same: a retry would be dropped again.
            metrics.recordWebhook(.dropped, event: kind)
            logger.warning(
                "dropped a callout for an unconfigured meter: the dynamic meter limit is reached",
                metadata: ["meter_id": "\(callout.key.meterId)", "limit": "\(config.maxDynamicMeters)"]
            )
            return .json(200, #"{"result":"dropped"}"#)
        }
    }

    /// A parsed callout of either event.
    private enum Callout {
        case status(StatusEvent)
        case periodic(PeriodicEvent)

        var key: MeterKey {
            switch self {
            case .status(let event): event.key
            case .periodic(let event): event.key
            }
        }
    }

    /// Hands the callout to its owner and relays the answer. Zuora's Basic credentials are not needed
    /// there (the replica signature stands in for them); its HMAC signature is, so that header goes along.
    private func forward(_ request: HTTPRequest, key: MeterKey, _ forwarding: PeerForwarding) -> HTTPResponse {
        let shard = forwarding.owner(key)
        var headers: [String: String] = [:]
        // Authorization too: a web-config basic_auth gate at the owner wants it as it did here.
        var names = ["Content-Type", "Zuora-Notification-Id", "Authorization"]
        if let hmac = config.hmac { names.append(hmac.header) }
        for name in names { if let value = request.header(name) { headers[name] = value } }
        headers[PeerForwarding.header] = PeerForwarding.signature(
            secret: forwarding.secret,
            notificationId: request.header("Zuora-Notification-Id"),
            body: request.body
        )
        let outgoing = HTTPRequest(method: "POST", path: request.path, headers: headers, body: request.body)
        let meta: Logger.Metadata = [
            "meter_id": "\(key.meterId)", "version": "\(key.version)", "shard": "\(shard)",
        ]
        switch forwarding.forwarder.forward(outgoing, toShard: shard) {
        case .answered(let status, _, _) where status == 421 || status == 401:
            // Shards or secrets that differ between replicas, e.g. during a roll-out: 503, so that Zuora
            // retries once they agree, instead of a 4xx it would give up on.
            metrics.recordForward(.refused)
            logger.warning(
                "the owning replica refused a forwarded callout",
                metadata: meta.merging(["status": "\(status)"]) { $1 }
            )
            return Self.error(503, "the replica owning this meter-version refused the forward; retry later")
        case .answered(let status, let body, let contentType):
            metrics.recordForward(.ok)
            logger.debug("forwarded a callout to its owner", metadata: meta)
            return HTTPResponse(
                status: status,
                headers: [("Content-Type", contentType.flatMap(Self.safeHeaderValue) ?? "application/json")],
                body: body
            )
        case .unreachable(let reason):
            metrics.recordForward(.unreachable)
            logger.warning(
                "could not forward a callout to the replica owning its meter-version",
                metadata: meta.merging(["error": "\(reason)"]) { $1 }
            )
            return Self.error(503, "the replica owning this meter-version is unreachable; retry later")
        }
    }

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

    /// A peer's header value, if it is plain printable ASCII (it goes back out as a header of ours).
    private static func safeHeaderValue(_ value: String) -> String? {
        value.utf8.count <= 256 && value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) ? value : nil
    }

    static func error(_ status: Int, _ message: String) -> HTTPResponse {
        .json(status, #"{"error":\#(TextEscaping.json(message))}"#)
    }
}
