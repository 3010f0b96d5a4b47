/// The `webhook:` section: the receiver of Zuora's "Meter Session Status Change" callouts. Secrets are
/// read from files; only their paths are kept here.
public struct WebhookConfig: Sendable, Equatable {
    public struct BasicAuth: Sendable, Equatable {
        public var username: String
        public var passwordFile: String

        public init(username: String, passwordFile: String) {
            self.username = username
            self.passwordFile = passwordFile
        }
    }

    public struct HMAC: Sendable, Equatable {
        public var secretFile: String
        public var header: String = "X-Zuora-Signature"
        public var encoding: SignatureEncoding = .hex

        public init(secretFile: String, header: String = "X-Zuora-Signature", encoding: SignatureEncoding = .hex) {
            self.secretFile = secretFile
            self.header = header
            self.encoding = encoding
        }
    }

    public var path = "/webhooks/meter-session-status"
    /// Where "Meter Session Periodic Status Update" callouts arrive: same authentication, de-duplication
    /// and limits as `path`.
    public var periodicPath = "/webhooks/meter-session-periodic-status"
    public var basicAuth: BasicAuth?
    public var hmac: HMAC?
    /// Accepting unauthenticated callouts must be asked for explicitly.
    public var insecure = false
    /// Meters not in the configuration that callouts may add, at most (cardinality protection).
    public var maxDynamicMeters = 100
    public var maxBodyBytes = 64 * 1024
    /// How many recent `Zuora-Notification-Id`s are remembered to drop retries.
    public var dedupWindow = 10_000
    /// Seconds without a callout after which a meter known only from callouts is forgotten.
    public var dynamicMeterTTL: Double = 86_400

    public init() {}

    static func parse(_ node: ConfigNode) throws(ConfigError) -> WebhookConfig {
        let entries = try node.mapping(allowed: [
            "path", "periodic_path", "basic_auth", "hmac", "insecure", "max_dynamic_meters", "max_body_bytes",
            "dedup_window",
            "dynamic_meter_ttl",
        ])
        var config = WebhookConfig()
        if let path = entries["path"] {
            config.path = try path.string()
            guard config.path.hasPrefix("/") else { throw path.error("must start with /") }
        }
        if let periodic = entries["periodic_path"] {
            config.periodicPath = try periodic.string()
            guard config.periodicPath.hasPrefix("/") else {
                throw periodic.error("must start with /, e.g. /webhooks/meter-session-periodic-status")
            }
        }
        if config.periodicPath == config.path {
            throw (entries["periodic_path"] ?? entries["path"] ?? node).error(
                "path and periodic_path are both \(config.path); the two callouts need paths of their own"
            )
        }
        if let basic = entries["basic_auth"] {
            let fields = try basic.mapping(allowed: ["username", "password_file"])
            guard let user = fields["username"], let password = fields["password_file"] else {
                throw basic.error("needs username and password_file")
            }
            config.basicAuth = BasicAuth(username: try user.text(), passwordFile: try password.string())
        }
        if let hmac = entries["hmac"] {
            let fields = try hmac.mapping(allowed: ["secret_file", "header", "encoding"])
            guard let secret = fields["secret_file"] else { throw hmac.error("needs secret_file") }
            var parsed = HMAC(secretFile: try secret.string())
            if let header = fields["header"] { parsed.header = try header.string() }
            if let encoding = fields["encoding"] {
                let text = try encoding.string()
                guard let value = SignatureEncoding(rawValue: text) else {
                    throw encoding.error("must be hex or base64")
                }
                parsed.encoding = value
            }
            config.hmac = parsed
        }
        if let insecure = entries["insecure"] { config.insecure = try insecure.bool() }
        if let limit = entries["max_dynamic_meters"] { config.maxDynamicMeters = try limit.int(in: 0...1_000_000) }
        if let limit = entries["max_body_bytes"] { config.maxBodyBytes = try limit.int(in: 1024...(1 << 20)) }
        if let window = entries["dedup_window"] { config.dedupWindow = try window.int(in: 1...1_000_000) }
        if let ttl = entries["dynamic_meter_ttl"] { config.dynamicMeterTTL = try ttl.duration(atLeast: 1) }
        if config.basicAuth == nil, config.hmac == nil, !config.insecure {
            throw node.error(
                "no authentication: add basic_auth and/or hmac, or set insecure: true to accept anyone's callouts"
            )
        }
        return config
    }
}
