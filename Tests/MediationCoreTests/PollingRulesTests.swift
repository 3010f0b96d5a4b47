import Testing

@testable import MediationCore

/// Small rules of the polling side: error reasons, path encoding, token refresh and backoff.
struct PollingRulesTests {
    @Test(arguments: [
        (401, "auth"), (403, "auth"), (404, "not_found"), (429, "rate_limited"), (500, "server_error"),
        (502, "server_error"), (503, "server_error"), (504, "timeout"), (408, "timeout"), (400, "bad_request"),
        (422, "bad_request"), (405, "bad_request"),
    ])
    func httpStatusesMapToTheirReason(status: Int, reason: String) {
        #expect(PollErrorReason.forHTTPStatus(status).rawValue == reason)
    }

    @Test func everyReasonLabelIsDocumented() {
        let documented = [
            "auth", "not_found", "bad_request", "rate_limited", "server_error", "timeout", "network",
            "decode",
        ]
        #expect(Set(PollErrorReason.allCases.map(\.rawValue)) == Set(documented))
    }

    @Test(arguments: [
        ("0.0.1", "0.0.1"), ("1.0/beta", "1.0%2Fbeta"), ("a b", "a%20b"), ("100%", "100%25"),
        ("v\u{e9}", "v%C3%A9"), ("x?y#z", "x%3Fy%23z"), ("A-Z_a.z~9", "A-Z_a.z~9"), ("\u{1F600}", "%F0%9F%98%80"),
    ])
    func pathSegmentsAreEncoded(raw: String, encoded: String) {
        #expect(PathEncoding.segment(raw) == encoded)
        #expect(PathEncoding.decode(Substring(encoded)) == raw)
    }

    @Test(arguments: ["", "/", "a/b/c", "%2F", "+ +", "ümlaut ✓", "\"quoted\"\n", "100% & more"])
    func encodingThenDecodingGivesBackTheText(raw: String) {
        let encoded = PathEncoding.segment(raw)
        #expect(!encoded.contains("/"), "a segment never contains a raw slash")
        #expect(!encoded.contains(" "))
        #expect(PathEncoding.decode(Substring(encoded)) == raw)
        #expect(PathEncoding.formValue(raw) == encoded)
    }

    @Test func decodingRefusesMalformedEscapesAndBadUTF8() {
        #expect(PathEncoding.decode("%") == nil)
        #expect(PathEncoding.decode("%4") == nil)
        #expect(PathEncoding.decode("%zz") == nil)
        #expect(PathEncoding.decode("%FF") == nil)
        #expect(PathEncoding.decode("a+b") == "a+b")
        #expect(PathEncoding.decode("a+b", plusAsSpace: true) == "a b")
        #expect(PathEncoding.decode("%2b", plusAsSpace: true) == "+")
    }

    @Test func anHourTokenIsRefreshedFiveMinutesEarly() {
        let policy = TokenPolicy(fetchedAt: 1000, lifetime: 3599)
        #expect(!policy.needsRefresh(now: 1000))
        #expect(!policy.needsRefresh(now: 1000 + 3298.9))
        #expect(policy.needsRefresh(now: 1000 + 3299))
        #expect(policy.needsRefresh(now: 1000 + 3599))
        #expect(policy.needsRefresh(now: 1000 + 9999))
    }

    @Test func aShortTokenIsRefreshedAtEightyPercent() {
        let policy = TokenPolicy(fetchedAt: 50, lifetime: 10)
        #expect(!policy.needsRefresh(now: 50))
        #expect(!policy.needsRefresh(now: 57.9))
        #expect(policy.needsRefresh(now: 58))
        #expect(policy.needsRefresh(now: 60))
    }

    @Test func backoffDoublesUpToTheCap() {
        let delays = (0...8).map { backoffDelay(failures: $0, base: 1, cap: 60) }
        #expect(delays == [0, 1, 2, 4, 8, 16, 32, 60, 60])
        #expect(backoffDelay(failures: 3, base: 30, cap: 600) == 120)
        #expect(backoffDelay(failures: 10_000, base: 30, cap: 600) == 600, "no overflow for long outages")
        #expect(backoffDelay(failures: Int.max, base: 1, cap: 60) == 60)
    }

    @Test(arguments: [0.0, 0.25, 0.5, 0.999])
    func jitterDrawsFromZeroToTheExponentialDelay(jitter: Double) {
        let delay = backoffDelay(failures: 4, base: 1, cap: 60, jitter: jitter)
        #expect(delay >= 0)
        #expect(delay <= 8)
        #expect(delay == 8 * jitter)
    }

    @Test func credentialsNeverPrintTheSecret() {
        let credentials = ZuoraCredentials(clientId: "client-123", clientSecret: "s3cr3t-value")
        for text in ["\(credentials)", String(describing: credentials), String(reflecting: credentials)] {
            #expect(!text.contains("s3cr3t-value"))
            #expect(!text.contains("client-123"))
        }
    }
}
