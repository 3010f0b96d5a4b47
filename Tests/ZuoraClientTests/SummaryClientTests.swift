import Foundation
import MediationCore
import Testing

@testable import ZuoraClient

/// `fetchSummary`: the request it sends, what it makes of the answers, and that it shares the token, the
/// 401 retry, the gate and the request metrics with polls, behind them in the budget.
@Suite struct SummaryClientTests {
    static let bySession = EndedRun(
        key: Harness.key,
        status: "FAILED",
        sessionId: "S-101-\"7\"",
        windowStart: 0,
        windowEnd: 0
    )
    // 2026-11-30T10:00:00.4Z to 10:05:00.2Z: widened to whole seconds outwards.
    static let byWindow = EndedRun(
        key: Harness.key,
        status: "COMPLETED",
        sessionId: nil,
        windowStart: 1_796_032_800.4,
        windowEnd: 1_796_033_100.2
    )
    static let answer = #"""
        {"success":true,"data":[{"operatorId":"op-read","errorCode":null,"outputCount":900,"errorCount":0},
        {"operatorId":"op-read","errorCode":"E_PARSE","outputCount":0,"errorCount":50,"totalCount":50}]}
        """#

    func summaries(_ fake: FakeTransport) -> [CurlRequest] { fake.sent.filter { $0.url.hasSuffix("/summary") } }

    func json(_ bytes: [UInt8]?) -> NSDictionary? {
        (try? JSONSerialization.jsonObject(with: Data(bytes ?? []))) as? NSDictionary
    }

    @Test func bySessionItPostsTheSessionIdWithTheSameTokenAsPolls() async throws {
        let fake = FakeTransport(runStatus: { _ in .success(.json(200, Self.answer)) })
        let h = Harness(fake: fake)
        let result = await h.client.fetchSummary(Self.bySession)
        var expected = SessionSummary()
        expected.add(operatorId: "op-read", errorCode: nil, counts: RecordCounts(output: 900))
        expected.add(operatorId: "op-read", errorCode: "E_PARSE", counts: RecordCounts(error: 50))
        #expect(result == .summary(expected))
        let request = try #require(summaries(fake).first)
        #expect(request.method == "POST")
        #expect(request.url == "https://zuora.test/meters/101/summary")
        #expect(request.headers.contains("Authorization: Bearer tok-1"))
        #expect(request.headers.contains("Content-Type: application/json"))
        let body = try #require(json(request.body))
        #expect(body == ["groupBy": ["operatorId", "errorCode"], "sessionIds": ["S-101-\"7\""]] as NSDictionary)
        _ = await h.fetch()
        #expect(fake.tokenRequests == 1, "one token for summaries and polls")
    }

    @Test func withoutASessionItAsksForTheObservedWindowInUTCSeconds() async throws {
        let fake = FakeTransport(runStatus: { _ in .success(.json(200, Self.answer)) })
        let h = Harness(fake: fake)
        _ = await h.client.fetchSummary(Self.byWindow)
        let body = try #require(json(summaries(fake).first?.body))
        #expect(
            body
                == [
                    "groupBy": ["operatorId", "errorCode"], "queryFromTime": "2026-11-30T10:00:00Z",
                    "queryToTime": "2026-11-30T10:05:01Z",
                ] as NSDictionary
        )
    }

    @Test func garbageIsADecodeErrorShowingTheBodysStartEscapedAndNoSecret() async {
        let garbage = "<html>\u{1B}[2J\nProxy error " + String(repeating: "x", count: 1000)
        let fake = FakeTransport(runStatus: { _ in .success(.json(200, garbage, headers: ["zuora-request-id": "r-1"])) }
        )
        let h = Harness(fake: fake)
        guard case .failure(let reason, let message, let scope) = await h.client.fetchSummary(Self.bySession) else {
            Issue.record("garbage accepted")
            return
        }
        #expect(reason == .decode && scope == .meter)
        #expect(message.contains(#"starts: <html>\u{1B}[2J\nProxy error xxx"#))
        #expect(!message.contains("\n") && !message.contains("\u{1B}"))
        #expect(message.count < 500, "about 200 bytes of the body, not all of it")
        #expect(!message.contains("tok-1") && !message.contains("secret"))
        #expect(message.contains("Zuora-Request-Id r-1"))
    }

    @Test(arguments: [
        (500, PollErrorReason.serverError, FaultScope.meter), (404, .notFound, .meter), (400, .badRequest, .meter),
        (429, .rateLimited, .tenant), (503, .serverError, .tenant),
    ])
    func errorsAreClassifiedAsForPolls(status: Int, reason: PollErrorReason, scope: FaultScope) async {
        let fake = FakeTransport(runStatus: { _ in
            .success(.json(status, #"{"success":false,"reasons":[{"code":"53100020","message":"nope"}]}"#))
        })
        let h = Harness(fake: fake)
        let result = await h.client.fetchSummary(Self.bySession)
        guard case .failure(let got, let message, let gotScope) = result else {
            Issue.record("HTTP \(status) accepted")
            return
        }
        #expect(got == reason && gotScope == scope)
        #expect(message.contains("HTTP \(status)") && message.contains("nope"))
        #expect(h.exposition().contains(#"zuora_api_requests_total{endpoint="summary",code="\#(status)"} 1"#))
    }

    @Test func a429OnASummaryPausesPollsToo() async {
        let fake = FakeTransport()
        fake.onRunStatus { request in
            request.url.hasSuffix("/summary")
                ? .success(.json(429, "{}", headers: ["retry-after": "20"])) : .success(.running)
        }
        let h = Harness(fake: fake)
        _ = await h.client.fetchSummary(Self.bySession)
        let poll = Task { await h.fetch() }
        #expect(await settle { h.clock.sleeperCount == 1 })
        #expect(fake.runStatusRequests.isEmpty, "the tenant waits, polls included")
        h.clock.advance(by: 20)
        #expect(await poll.value.result == .status(RunStatus(code: 5)))
    }

    @Test func a401GetsAFreshTokenAndOneRetry() async {
        let fake = FakeTransport()
        fake.onRunStatus { request in
            request.headers.contains("Authorization: Bearer tok-1")
                ? .success(.json(401, "{}")) : .success(.json(200, Self.answer))
        }
        let h = Harness(fake: fake)
        guard case .summary = await h.client.fetchSummary(Self.bySession) else {
            Issue.record("no summary after the retry")
            return
        }
        #expect(fake.tokenRequests == 2)
        #expect(summaries(fake).count == 2)
    }

    @Test func summariesWaitWhileTheBudgetHasNoRoomBeyondThePollsReserve() async {
        let fake = FakeTransport(runStatus: { request in
            request.url.hasSuffix("/summary") ? .success(.json(200, Self.answer)) : .success(.running)
        })
        // 10 a minute; the token takes one. A reserve of 4 polls: summaries stop at 6 used.
        let h = Harness(fake: fake, budget: BudgetLimits(perMinute: 10))
        h.client.setPollReserve(4)
        for _ in 0..<5 { _ = await h.fetch() }
        let summary = Task { await h.client.fetchSummary(Self.bySession) }
        #expect(await settle { h.clock.sleeperCount == 1 })
        #expect(summaries(fake).isEmpty, "6 of 10 used: the rest is the polls'")
        for _ in 0..<4 { #expect(await h.fetch().result == .status(RunStatus(code: 5)), "polls still go") }
        #expect(summaries(fake).isEmpty)
        h.clock.advance(by: 61)
        guard case .summary = await summary.value else {
            Issue.record("the summary never went")
            return
        }
        #expect(summaries(fake).count == 1)
    }

    @Test func aCancelledSummaryReturnsPromptlyWithoutBeingSent() async {
        let fake = FakeTransport()
        let h = Harness(fake: fake, budget: BudgetLimits(perMinute: 2))
        h.client.setPollReserve(1)
        _ = await h.fetch()  // token + poll: the window is full for summaries
        let summary = Task { await h.client.fetchSummary(Self.bySession) }
        #expect(await settle { h.clock.sleeperCount == 1 })
        summary.cancel()
        guard case .failure = await summary.value else {
            Issue.record("a cancelled summary answered")
            return
        }
        #expect(summaries(fake).isEmpty)
    }
}
