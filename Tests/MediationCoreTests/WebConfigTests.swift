import Testing

@testable import MediationCore

/// The web configuration file (exporter-toolkit's format): TLS, mutual TLS policies and basic auth users.
struct WebConfigTests {
    static let hash = "$2y$10$" + String(repeating: "a", count: 53)

    func parseError(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigError? {
        do {
            let config = try WebConfig.parse(yaml: yaml)
            Issue.record("expected an error, parsed \(config)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    @Test func aFullConfigIsReadAsWritten() throws {
        let config = try WebConfig.parse(
            yaml: """
                tls_server_config:
                  cert_file: /etc/zme/cert.pem
                  key_file: /etc/zme/key.pem
                  min_version: TLS13
                  client_ca_file: /etc/zme/clients.pem
                  client_auth_type: VerifyClientCertIfGiven
                basic_auth_users:
                  prometheus: '\(Self.hash)'
                """
        )
        #expect(config.tls?.certFile == "/etc/zme/cert.pem" && config.tls?.keyFile == "/etc/zme/key.pem")
        #expect(config.tls?.clientCAFile == "/etc/zme/clients.pem")
        #expect(config.tls?.clientAuth == .verifyClientCertIfGiven)
        #expect(config.tlsPriorities == "NORMAL:-VERS-ALL:+VERS-TLS1.3")
        #expect(config.basicAuthUsers == ["prometheus": Self.hash])
    }

    @Test func anEmptyFileMeansPlainHTTPWithoutAuth() throws {
        let config = try WebConfig.parse(yaml: "")
        #expect(config.tls == nil && config.basicAuthUsers.isEmpty)
    }

    @Test func theOlderRequireClientCertSpellingIsAccepted() throws {
        let config = try WebConfig.parse(
            yaml: """
                tls_server_config: {cert_file: c, key_file: k, client_ca_file: ca, client_auth_type: RequireClientCert}
                """
        )
        #expect(config.tls?.clientAuth == .requireAnyClientCert)
    }

    @Test(arguments: [
        ("tls_server_config: {cert_file: c, key_file: k, client_ca_file: ca}", "client_auth_type"),
        (
            "tls_server_config: {cert_file: c, key_file: k, client_auth_type: RequireAndVerifyClientCert}",
            "client_ca_file"
        ),
        (
            "tls_server_config: {cert_file: c, key_file: k, client_ca_file: ca, client_auth_type: Always}",
            "RequireAndVerifyClientCert"
        ),
        ("tls_server_config: {cert_file: c}", "key_file"),
        ("tls_server_config: {cert_file: c, key_file: k, min_version: TLS10}", "TLS12"),
        ("tls_server_config: {cert_file: c, key_file: k, cipher_suites: [x]}", "proxy"),
        ("basic_auth_users: {prometheus: plaintext}", "bcrypt"),
        ("http_server_config: {http2: false}", "http_server_config"),
        ("tls_config: {}", "tls_config"),
    ])
    func aBadConfigIsRefusedWithAMessageThatSaysWhatToChange(yaml: String, mentioning: String) {
        let error = parseError(yaml)
        #expect(error?.description.contains(mentioning) == true, "\(String(describing: error))")
    }

    @Test func eachClientAuthPolicyAdmitsWhatGoWouldAdmit() {
        typealias Policy = WebConfig.ClientAuth
        let expected: [Policy: (none: Bool, verified: Bool, unverified: Bool)] = [
            .noClientCert: (true, true, true),
            .requestClientCert: (true, true, true),
            .requireAnyClientCert: (false, true, true),
            .verifyClientCertIfGiven: (true, true, false),
            .requireAndVerifyClientCert: (false, true, false),
        ]
        for policy in Policy.allCases {
            let row = expected[policy]
            #expect(policy.admits(.none) == row?.none, "\(policy) without a certificate")
            #expect(policy.admits(.verified) == row?.verified, "\(policy) with a verified certificate")
            #expect(policy.admits(.unverified) == row?.unverified, "\(policy) with an unverifiable certificate")
        }
    }
}
