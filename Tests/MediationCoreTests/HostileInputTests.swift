import CCrypt
import Foundation
import Logging
import Synchronization
import Testing

@testable import MediationCore

#if canImport(Glibc)
import Glibc
#endif

/// A bcrypt hash made with the system's libxcrypt, independently of `PasswordHash`.
func bcrypt(_ password: String, cost: Int) -> String {
    // crypt_gensalt_ra returns memory the caller frees.
    let saltPointer = crypt_gensalt_ra("$2b$", UInt(cost), nil, 0)
    defer { free(saltPointer) }
    let salt = saltPointer.map { String(cString: $0) } ?? ""
    var data: UnsafeMutableRawPointer?
    var size: Int32 = 0
    defer { free(data) }
    return String(cString: crypt_ra(password, salt, &data, &size))
}

/// Values from outside that once trapped, or could: they must get a clear answer, never a crash.
struct HostileInputTests {
    static let quiet = Logger(label: "hostile-input-tests") { _ in SwiftLogNoOpLogHandler() }

    @Test(arguments: [
        "é", "sha256=é", "abé", "🇺🇸", "sha256=🇺🇸🇺🇸", "\u{0}\u{0}", "zz", "a", " ", "SHA256=", "é1", "1é",
        String(repeating: "é", count: 10_000), "sha256=" + String(repeating: "0", count: 1_000_001),
    ])
    func aHostileSignatureHeaderIsRefusedNotTrapped(header: String) {
        for encoding in SignatureEncoding.allCases {
            let decoded = Signatures.decode(header, encoding: encoding)
            if let decoded { #expect(!Signatures.constantTimeEqual(decoded, [UInt8](repeating: 7, count: 32))) }
        }
    }

    @Test func signaturesDecodeWithOrWithoutThePrefixAndBlanks() {
        #expect(Signatures.decode(" sha256=0aFF ", encoding: .hex) == [0x0a, 0xff])
        #expect(Signatures.decode("SHA256=0aff", encoding: .hex) == [0x0a, 0xff])
        #expect(Signatures.decode("0aff", encoding: .hex) == [0x0a, 0xff])
        #expect(Signatures.decode("0g", encoding: .hex) == nil)
        #expect(Signatures.decode("sha256=AAo=", encoding: .base64) == [0, 10])
    }

    func gate(_ users: [String: String], checks: Int = 2) -> BasicAuthGate {
        BasicAuthGate(
            users: users,
            hashes: PasswordHash(maxConcurrentChecks: checks),
            inner: ExporterRoutes(
                settings: .init(telemetryPath: "/metrics", version: "test"),
                hub: StatusHub(),
                dynamicMetrics: { [] },
                isReady: { true }
            )
        )
    }

    func basic(_ user: [UInt8], _ password: [UInt8]) -> [String: String] {
        ["Authorization": "Basic " + Data(user + [UInt8(ascii: ":")] + password).base64EncodedString()]
    }

    @Test func aPasswordIsNotCutAtANulByte() {
        let gate = gate(["prometheus": bcrypt("s3cret-pass", cost: 4)])
        let right = HTTPRequest(
            method: "GET",
            path: "/-/healthy",
            headers: basic(Array("prometheus".utf8), Array("s3cret-pass".utf8))
        )
        #expect(gate.respond(to: right).status == 200)
        for password in ["s3cret-pass\u{0}anything", "s3cret-pass\u{0}", "\u{0}s3cret-pass"] {
            let request = HTTPRequest(
                method: "GET",
                path: "/-/healthy",
                headers: basic(Array("prometheus".utf8), Array(password.utf8))
            )
            #expect(gate.respond(to: request).status == 401, "\(password.debugDescription) is refused")
        }
        let nulUser = HTTPRequest(
            method: "GET",
            path: "/-/healthy",
            headers: basic(Array("prometheus\u{0}x".utf8), Array("s3cret-pass".utf8))
        )
        #expect(gate.respond(to: nulUser).status == 401)
    }

    @Test(arguments: [
        "Basic", "Basic ", "Basic ====", "Basic é", "basic " + String(repeating: "A", count: 100_000), "Bearer x",
        "Basic " + Data([0xff, 0xfe, 0x3a, 0xff]).base64EncodedString(),
        "Basic " + Data("nocolon".utf8).base64EncodedString(),
    ])
    func hostileAuthorizationHeadersAreRefused(header: String) {
        let gate = gate(["prometheus": bcrypt("pw", cost: 4)])
        let request = HTTPRequest(method: "GET", path: "/metrics", headers: ["Authorization": header])
        #expect(gate.respond(to: request).status == 401)
    }

    @Test func anUnknownUserCostsTheSameBcryptAsAKnownOne() {
        let hashes = PasswordHash()
        let hash = bcrypt("right", cost: 4)
        // The gate checks an unknown user's password against a configured hash: one bcrypt either way.
        #expect(hashes.verify(user: Array("nobody".utf8), password: Array("x".utf8), hash: hash) == .mismatch)
        let gate = gate(["prometheus": hash])
        let unknown = HTTPRequest(
            method: "GET",
            path: "/metrics",
            headers: basic(Array("nobody".utf8), Array("right".utf8))
        )
        #expect(gate.respond(to: unknown).status == 401, "the right password of another user opens nothing")
    }

    @Test func concurrentPasswordChecksAreCappedAndACachedCredentialStaysFast() {
        let slow = bcrypt("right", cost: 12)
        let hashes = PasswordHash(maxConcurrentChecks: 2)
        #expect(hashes.verify(user: Array("u".utf8), password: Array("right".utf8), hash: slow) == .match)
        // Server threads, as libmicrohttpd's: six wrong passwords at once.
        let collected = Mutex<[PasswordHash.Verdict]>([])
        let group = DispatchGroup()
        for index in 0..<6 {
            group.enter()
            Thread {
                let verdict = hashes.verify(user: Array("u".utf8), password: Array("wrong\(index)".utf8), hash: slow)
                collected.withLock { $0.append(verdict) }
                group.leave()
            }.start()
        }
        // Meanwhile the cached credential is answered from the cache.
        #expect(hashes.verify(user: Array("u".utf8), password: Array("right".utf8), hash: slow) == .match)
        group.wait()
        let verdicts = collected.withLock { $0 }
        #expect(verdicts.count { $0 == .busy } >= 1, "more wrong passwords at once than the cap: some refused")
        #expect(verdicts.count { $0 == .mismatch } >= 1)
        #expect(!verdicts.contains(.match))
    }

    @Test func callouts() throws {
        let long = String(repeating: "x", count: 30_000)
        for (field, value) in [("version", long), ("meterName", long), ("sessionId", long)] {
            var fields = ["meterId": "7", "sessionId": #""s""#, "status": #""RUNNING""#]
            fields[field] = #""\#(value)""#
            let body = "{" + fields.map { #""\#($0.key)": \#($0.value)"# }.joined(separator: ", ") + "}"
            guard case .failure(let problem) = CalloutBody.parse(Array(body.utf8)) else {
                Issue.record("\(field) of 30 KB accepted")
                continue
            }
            #expect(problem.description.contains(field))
            #expect(problem.description.utf8.count < 200)
        }
        let hostileStatus = #"{"meterId": 7, "sessionId": "s", "status": "\#(long)\n"}"#
        guard case .failure(let problem) = CalloutBody.parse(Array(hostileStatus.utf8)) else {
            Issue.record("accepted")
            return
        }
        #expect(problem.description.utf8.count < 200, "a refused value is quoted short")
    }
}

struct ConfigHardeningTests {
    static let base = """
        zuora:
          base_url: https://rest.test.zuora.com
        meters:
          - id: 1

        """

    @Test func aByteOrderMarkAtTheStartIsAccepted() throws {
        let config = try ExporterConfig.parse(yaml: "\u{FEFF}" + Self.base)
        #expect(config.meters.count == 1)
        #expect(try WebConfig.parse(yaml: "\u{FEFF}basic_auth_users: {}\n").tls == nil)
    }

    @Test(arguments: ["entity_ids", "org_ids"])
    func headerValuesWithLineBreaksAreRefused(key: String) {
        for value in [#""a\r\nX-Injected: 1""#, #""a\nb""#, #""a\u0000b""#, #""\u007f""#] {
            let yaml = "zuora:\n  base_url: https://rest.test.zuora.com\n  \(key): \(value)\nmeters: []\n"
            #expect(throws: ConfigError.self, "\(key): \(value)") { try ExporterConfig.parse(yaml: yaml) }
        }
        let fine = "zuora:\n  base_url: https://rest.test.zuora.com\n  \(key): \"a,b\"\nmeters: []\n"
        #expect((try? ExporterConfig.parse(yaml: fine)) != nil)
    }

    @Test func aBaseURLWithControlCharactersIsRefused() {
        let yaml = "zuora:\n  base_url: \"https://rest.zuora.com\\r\\nX: 1\"\nmeters: []\n"
        #expect(throws: ConfigError.self) { try ExporterConfig.parse(yaml: yaml) }
    }

    @Test func theDynamicMeterLifetimeIsConfigurable() throws {
        let yaml = Self.base + "webhook:\n  insecure: true\n  dynamic_meter_ttl: 2h\n"
        #expect(try ExporterConfig.parse(yaml: yaml).webhook?.dynamicMeterTTL == 7200)
        #expect(
            try ExporterConfig.parse(yaml: Self.base + "webhook:\n  insecure: true\n").webhook?.dynamicMeterTTL
                == 86_400
        )
    }

    @Test func reloadIsOffUnlessTheLifecycleFlagIsGiven() {
        func routes(_ enabled: Bool) -> ExporterRoutes {
            ExporterRoutes(
                settings: .init(telemetryPath: "/metrics", version: "t", lifecycleEnabled: enabled),
                hub: StatusHub(),
                dynamicMetrics: { [] },
                isReady: { true },
                reload: { .success("reloaded") }
            )
        }
        let request = HTTPRequest(method: "POST", path: "/-/reload")
        #expect(routes(false).respond(to: request).status == 403)
        #expect(routes(false).handle(request).status == 403, "also without admit")
        #expect(routes(true).respond(to: request).status == 200)
    }
}
