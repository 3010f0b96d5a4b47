/// Hands a callout to the replica that owns its meter-version (`--shard.peer-url-template`). Declared here
/// so that the receiver stays free of I/O; the libcurl implementation lives in `ZuoraClient`.
public protocol CalloutForwarding: Sendable {
    /// Sends `request` (same path, body and headers) to replica `shard` and waits, at most the
    /// implementation's short timeout, for its answer. Called on the HTTP server's own threads.
    func forward(_ request: HTTPRequest, toShard shard: Int) -> ForwardOutcome
}

/// What became of a forwarded callout.
public enum ForwardOutcome: Sendable, Equatable {
    /// The peer answered (any status); relayed to Zuora as it is.
    case answered(status: Int, body: [UInt8], contentType: String?)
    /// No answer in time: connection refused, name not resolved, timeout, too many forwards at once.
    case unreachable(reason: String)
}

/// Forwarding between replicas: the peers, the shared secret that authenticates them to one another, and
/// which shard owns a meter-version.
public struct PeerForwarding: Sendable {
    /// Header of a forwarded callout: HMAC-SHA256, keyed with the replica secret, over the notification id
    /// and the body. A signature rather than the secret itself: the secret never crosses the network, and
    /// a captured forward cannot be replayed with another body.
    public static let header = "X-Exporter-Forward-Signature"

    let secret: [UInt8]
    let forwarder: any CalloutForwarding
    let owner: @Sendable (MeterKey) -> Int

    public init(secret: [UInt8], forwarder: any CalloutForwarding, owner: @escaping @Sendable (MeterKey) -> Int) {
        self.secret = secret
        self.forwarder = forwarder
        self.owner = owner
    }

    /// The value of `header` for a callout with this notification id and body.
    public static func signature(secret: [UInt8], notificationId: String?, body: [UInt8]) -> String {
        Signatures.hex(Signatures.hmacSHA256(key: secret, message: message(notificationId: notificationId, body: body)))
    }

    /// Whether a forwarded callout carries the right signature (compared in constant time).
    func verifies(_ request: HTTPRequest) -> Bool {
        let given = request.header(Self.header).flatMap { Signatures.decode($0, encoding: .hex) } ?? []
        let message = Self.message(notificationId: request.header("Zuora-Notification-Id"), body: request.body)
        return Signatures.constantTimeEqual(given, Signatures.hmacSHA256(key: secret, message: message))
    }

    /// The id's length first, so that id and body cannot be re-split into another pair with the same bytes.
    private static func message(notificationId: String?, body: [UInt8]) -> [UInt8] {
        let id = Array((notificationId ?? "").utf8)
        return Array("\(id.count):".utf8) + id + body
    }
}
