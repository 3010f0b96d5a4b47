import CCrypt
import Synchronization
import Yams

#if canImport(Glibc)
import Glibc
#endif

/// Prometheus exporter-toolkit's web configuration file (`--web.config.file`): TLS for the HTTP server
/// and Basic authentication with bcrypt hashes. Applies to every endpoint, the callout receiver included.
public struct WebConfig: Sendable, Equatable {
    public struct TLS: Sendable, Equatable {
        public var certFile: String
        public var keyFile: String
        /// `TLS12` or `TLS13`; nil lets GnuTLS choose (TLS 1.2 and up by its defaults).
        public var minVersion: String?
        /// PEM file of the CA that signs client certificates (mutual TLS).
        public var clientCAFile: String?
        public var clientAuth: ClientAuth = .noClientCert
    }

    /// exporter-toolkit's `client_auth_type`, with Go's meanings.
    public enum ClientAuth: String, Sendable, Equatable, CaseIterable {
        case noClientCert = "NoClientCert"
        case requestClientCert = "RequestClientCert"
        case requireAnyClientCert = "RequireAnyClientCert"
        case verifyClientCertIfGiven = "VerifyClientCertIfGiven"
        case requireAndVerifyClientCert = "RequireAndVerifyClientCert"

        /// What a TLS client showed of itself.
        public enum Certificate: Sendable {
            case none, verified, unverified
        }

        /// Whether a client that showed `certificate` may be served.
        public func admits(_ certificate: Certificate) -> Bool {
            switch (self, certificate) {
            case (.noClientCert, _), (.requestClientCert, _): true
            case (.requireAnyClientCert, .none): false
            case (.requireAnyClientCert, _): true
            case (.verifyClientCertIfGiven, .unverified): false
            case (.verifyClientCertIfGiven, _): true
            case (.requireAndVerifyClientCert, .verified): true
            case (.requireAndVerifyClientCert, _): false
            }
        }
    }

    public var tls: TLS?
    /// User name → bcrypt hash (`$2y$…`, `$2b$…`, `$2a$…`).
    public var basicAuthUsers: [String: String] = [:]

    public init() {}

    public static func parse(yaml: String) throws(ConfigError) -> WebConfig {
        let root: Node?
        do { root = try Yams.compose(yaml: ConfigText.droppingByteOrderMark(yaml)) } catch {
            throw ConfigError(path: "", line: nil, message: "not valid YAML: \(error)")
        }
        var config = WebConfig()
        guard let root else { return config }
        let top = try ConfigNode(node: root, path: "").mapping(allowed: [
            "tls_server_config", "basic_auth_users", "http_server_config",
        ])
        if let tlsNode = top["tls_server_config"] {
            let fields = try tlsNode.mapping(allowed: [
                "cert_file", "key_file", "min_version", "client_ca_file", "client_auth_type", "cipher_suites",
                "curve_preferences", "max_version", "prefer_server_cipher_suites",
            ])
            for unsupported in ["cipher_suites", "curve_preferences", "max_version"] {
                if let node = fields[unsupported] {
                    throw node.error(
                        "not supported by this exporter (libmicrohttpd); remove it or terminate TLS in a proxy"
                    )
                }
            }
            guard let cert = fields["cert_file"], let key = fields["key_file"] else {
                throw tlsNode.error("needs cert_file and key_file")
            }
            var tls = TLS(certFile: try cert.string(), keyFile: try key.string())
            if let version = fields["min_version"] {
                let text = try version.string()
                guard ["TLS12", "TLS13"].contains(text) else { throw version.error("must be TLS12 or TLS13") }
                tls.minVersion = text
            }
            try Self.parseClientAuth(fields, into: &tls, at: tlsNode)
            config.tls = tls
        }
        if let users = top["basic_auth_users"] {
            guard case .mapping(let mapping) = users.node else { throw users.error("expected user: bcrypt-hash pairs") }
            for (userNode, hashNode) in mapping {
                let user = userNode.string ?? ""
                let hash = hashNode.string ?? ""
                guard !user.isEmpty, PasswordHash.isBcrypt(hash) else {
                    throw ConfigError(
                        path: "basic_auth_users.\(user)",
                        line: hashNode.mark?.line,
                        message: "expected a bcrypt hash ($2y$…, e.g. from htpasswd -nBC 10 USER)"
                    )
                }
                config.basicAuthUsers[user] = hash
            }
        }
        if let http = top["http_server_config"] {
            throw http.error("not supported by this exporter; remove it")
        }
        return config
    }

    /// `client_ca_file` and `client_auth_type`, with exporter-toolkit's rules (a CA needs a policy) and
    /// libmicrohttpd's (it asks for client certificates only when it has a CA, so every policy needs one).
    private static func parseClientAuth(
        _ fields: [String: ConfigNode],
        into tls: inout TLS,
        at tlsNode: ConfigNode
    ) throws(ConfigError) {
        if let node = fields["client_auth_type"] {
            let text = try node.string()
            // "RequireClientCert" is exporter-toolkit's older spelling, still accepted there.
            guard let policy = ClientAuth(rawValue: text == "RequireClientCert" ? "RequireAnyClientCert" : text) else {
                throw node.error(
                    "unknown client_auth_type \(text); use one of "
                        + ClientAuth.allCases.map(\.rawValue).joined(separator: ", ")
                )
            }
            tls.clientAuth = policy
        }
        if let node = fields["client_ca_file"] { tls.clientCAFile = try node.string() }
        if tls.clientCAFile != nil, tls.clientAuth == .noClientCert {
            throw tlsNode.error(
                "client_ca_file is set without a client_auth_type; set client_auth_type: RequireAndVerifyClientCert"
            )
        }
        if tls.clientCAFile == nil, tls.clientAuth != .noClientCert {
            throw tlsNode.error(
                "client_auth_type \(tls.clientAuth.rawValue) needs client_ca_file (the CA that signs client certificates)"
            )
        }
    }

    /// GnuTLS priority string for the minimum version.
    public var tlsPriorities: String? {
        switch tls?.minVersion {
        case "TLS13": "NORMAL:-VERS-ALL:+VERS-TLS1.3"
        case "TLS12": "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"
        default: nil
        }
    }
}
