import MediationCore
import Testing

@testable import ZuoraClient

/// The OAuth token: cached, refreshed ahead of expiry, replaced after a 401, and what its failures mean.
@Suite struct TokenTests {
    @Test func oneTokenServesManyPollsAndIsRefreshed300SecondsBeforeExpiry() async {
        let h = Harness()
        for _ in 0..<3 { #expect(await h.fetch().result == .status(RunStatus(code: 5))) }
        #expect(h.fake.tokenRequests == 1)
        h.clock.advance(by: 3599 - 300 - 1)
        _ = await h.fetch()
        #expect(h.fake.tokenRequests == 1, "still fresh 301 s before expiry")
        h.clock.advance(by: 1)
        _ = await h.fetch()
        #expect(h.fake.tokenRequests == 2, "refreshed 300 s before expiry")
        #expect(h.fake.bearers == ["tok-1", "tok-1", "tok-1", "tok-1", "tok-2"])
    }

    @Test func shortLifetimesRefreshAt80Percent() async {
        let fake = FakeTransport()
        fake.onToken(FakeTransport.issueTokens(fake, lifetime: 100))
        let h = Harness(fake: fake)
        _ = await h.fetch()
        h.clock.advance(by: 79)
        _ = await h.fetch()
        #expect(fake.tokenRequests == 1)
        h.clock.advance(by: 1)
        _ = await h.fetch()
        #expect(fake.tokenRequests == 2)
    }

    @Test func theShownExpiryIsWallClockTime() async {
        let h = Harness()
        _ = await h.fetch()
        #expect(h.exposition().contains("zuora_oauth_token_expiry_timestamp_seconds 1800003599"))
    }

    @Test func hugeOrMissingLifetimesAreBounded() async {
        for (lifetime, refreshedAfter) in [
            ("99999999999999999999", 3599.0 - 300), ("1e300", 3599 - 300), ("1e12", 86_400 - 300),
        ] {
            let fake = FakeTransport(token: { _ in
                .success(.json(200, #"{"access_token":"x","expires_in":\#(lifetime)}"#))
            })
            let h = Harness(fake: fake)
            _ = await h.fetch()
            h.clock.advance(by: refreshedAfter - 1)
            _ = await h.fetch()
            #expect(fake.tokenRequests == 1, "expires_in \(lifetime)")
            h.clock.advance(by: 1)
            _ = await h.fetch()
            #expect(fake.tokenRequests == 2, "expires_in \(lifetime): refreshed after \(refreshedAfter) s")
        }
    }

    @Test func a401GetsAFreshTokenAndOneRetry() async {
        let fake = FakeTransport()
        fake.onRunStatus { request in
            request.headers.contains("Authorization: Bearer tok-1") ? .success(.json(401, "{}")) : .success(.running)
        }
        let h = Harness(fake: fake)
        #expect(await h.fetch().result == .status(RunStatus(code: 5)))
        #expect(fake.bearers == ["tok-1", "tok-2"])
        #expect(fake.tokenRequests == 2)
    }

    @Test func aSecond401IsAnAuthFailureOfTheMeter() async {
        let fake = FakeTransport(runStatus: { _ in
            .success(.json(401, #"{"reasons":[{"code":90000011,"message":"no"}]}"#))
        })
        let h = Harness(fake: fake)
        let result = await h.fetch()
        #expect(result.reason == .auth)
        #expect(result.scope == .meter)
        #expect(result.message.contains("HTTP 401"))
        #expect(fake.runStatusRequests.count == 2, "retried once, not more")
    }

    @Test(arguments: [400, 401, 403])
    func rejectedCredentialsAreAuthAndATenantFault(status: Int) async {
        let fake = FakeTransport(token: { _ in .success(.json(status, #"{"error":"invalid_client"}"#)) })
        let h = Harness(fake: fake)
        let result = await h.fetch()
        #expect(result.reason == .auth)
        #expect(result.scope == .tenant)
        #expect(result.message.contains("check the client id and secret"))
        #expect(!result.message.contains("secret="), "the form is never shown")
        #expect(fake.runStatusRequests.isEmpty)
    }

    @Test(arguments: [
        (429, PollErrorReason.rateLimited), (500, .serverError), (503, .serverError), (502, .serverError),
        (504, .timeout),
    ])
    func otherTokenStatusesKeepTheirOwnReason(status: Int, reason: PollErrorReason) async {
        let fake = FakeTransport(token: { _ in .success(.json(status, "")) })
        let h = Harness(fake: fake)
        let result = await h.fetch()
        #expect(result.reason == reason, "HTTP \(status)")
        #expect(result.scope == .tenant)
    }

    @Test(arguments: [
        (CurlFailure.Kind.timeout, PollErrorReason.timeout), (.network, .network), (.unreachable, .network),
        (.bodyTooLarge, .decode),
    ])
    func tokenRequestsWithoutAnswerKeepTheirOwnReason(kind: CurlFailure.Kind, reason: PollErrorReason) async {
        let fake = FakeTransport(token: { _ in .failure(CurlFailure(kind, "boom", seconds: 1.25)) })
        let h = Harness(fake: fake)
        let result = await h.fetch()
        #expect(result.reason == reason)
        #expect(result.scope == .tenant)
        #expect(h.exposition().contains(#"zuora_api_request_duration_seconds_sum{endpoint="token"} 1.25"#))
    }

    @Test func aTokenBodyThatDoesNotDecodeIsADecodeFailure() async {
        let fake = FakeTransport(token: { _ in .success(.json(200, "<html>maintenance</html>")) })
        let result = await Harness(fake: fake).fetch()
        #expect(result.reason == .decode)
        #expect(result.scope == .tenant)
    }

    @Test(arguments: [
        "abc\\r\\nX-Injected: 1", "abc\\ndef", "abc def", "abc\\u0000", "abc\\u0007", "tök", "abc=def", "=", "",
    ])
    func anAccessTokenWithForbiddenCharactersIsRefused(token: String) async {
        let body = #"{"access_token":"\#(token)","expires_in":3599}"#
        let fake = FakeTransport(token: { _ in .success(.json(200, body)) })
        let result = await Harness(fake: fake).fetch()
        #expect(result.reason == .auth || (token.isEmpty && result.reason == .decode), "token \(token)")
        #expect(result.scope == .tenant)
        if !token.isEmpty {
            #expect(result.message.contains("token endpoint returned an access_token with forbidden characters"))
        }
        #expect(fake.runStatusRequests.isEmpty, "nothing is sent with it")
    }

    @Test func b64TokensPass() {
        for token in ["abc", "A-Z.a_z~0+9/", "abc==", "a1b2c3d4e5f6"] { #expect(ZuoraFaults.isB64Token(token)) }
    }

    @Test func aFailedTokenEndpointIsRetriedAfterABackOffNotPerPoll() async {
        let fake = FakeTransport(token: { _ in .success(.json(500, "")) })
        let h = Harness(fake: fake)
        #expect(await h.fetch().reason == .serverError)
        #expect(fake.tokenRequests == 1)
        // The next poll waits out the back-off (1 s) with the token request, instead of failing at once.
        let next = Task { await h.fetch() }
        #expect(await settle { h.clock.sleeperCount == 1 })
        #expect(fake.tokenRequests == 1)
        fake.onToken(FakeTransport.issueTokens(fake))
        h.clock.advance(by: 1)
        #expect(await next.value.result == .status(RunStatus(code: 5)))
        #expect(fake.tokenRequests == 2)
    }

    @Test func concurrentPollsShareOneTokenRequest() async {
        let fake = FakeTransport()
        let release = ManualClock(now: 0)
        fake.holdTokenUntilReleased(by: release)
        let h = Harness(fake: fake)
        let polls = (0..<5).map { _ in Task { await h.fetch() } }
        #expect(await settle { release.sleeperCount == 1 })
        release.advance(by: 1)
        for poll in polls { #expect(await poll.value.result == .status(RunStatus(code: 5))) }
        #expect(fake.tokenRequests == 1)
        #expect(Set(fake.bearers) == ["shared"])
    }
}
