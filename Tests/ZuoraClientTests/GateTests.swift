import MediationCore
import Testing

@testable import ZuoraClient

/// Zuora's back-off signals and the request budget hold every request back, tenant-wide.
@Suite struct GateTests {
    @Test func a429WithRetryAfterHoldsTheNextRequestThatLong() async {
        let fake = FakeTransport(runStatus: { _ in .success(.json(429, "{}", headers: ["retry-after": "30"])) })
        let h = Harness(fake: fake)
        let first = await h.fetch()
        #expect(first.reason == .rateLimited && first.scope == .tenant)
        fake.onRunStatus { _ in .success(.running) }
        let next = Task { await h.fetch(MeterKey(meterId: 102, version: "0.0.1")) }
        #expect(await settle { h.clock.sleeperCount == 1 })
        h.clock.advance(by: 29)
        #expect(await settle { h.clock.sleeperCount == 1 })
        #expect(fake.runStatusRequests.count == 1, "no meter is polled during Retry-After")
        h.clock.advance(by: 1)
        #expect(await next.value.result == .status(RunStatus(code: 5)))
        #expect(fake.runStatusRequests.count == 2)
    }

    @Test func anExhaustedAllowanceHoldsRequestsUntilTheReset() async {
        let fake = FakeTransport(runStatus: { _ in
            .success(
                .json(200, #"{"data":{"runStatus":5}}"#, headers: ["ratelimit-remaining": "0", "ratelimit-reset": "7"])
            )
        })
        let h = Harness(fake: fake)
        #expect(await h.fetch().result == .status(RunStatus(code: 5)))
        let next = Task { await h.fetch() }
        #expect(await settle { h.clock.sleeperCount == 1 })
        h.clock.advance(by: 6.5)
        #expect(await settle { h.clock.sleeperCount == 1 })
        #expect(fake.runStatusRequests.count == 1)
        h.clock.advance(by: 0.5)
        _ = await next.value
        #expect(fake.runStatusRequests.count == 2)
    }

    static let retryAfters: [(String, Double)] = [
        ("30", 30), ("0", 0), ("99999999999999999999", 3600), ("1e308", 3600), ("-1", 5), ("nan", 5), ("inf", 5),
        ("５", 5), ("Fri, 31 Dec 1999 23:59:59 GMT", 5), ("", 5), (String(repeating: "9", count: 5000), 5),
    ]

    @Test(arguments: retryAfters)
    func hostileRetryAfterValuesNeverTrapAndStayBounded(value: String, pause: Double) {
        let clock = ManualClock()
        let gate = RequestGate(
            limits: BudgetLimits(),
            metrics: ExporterMetrics(version: "", revision: ""),
            clock: clock
        )
        gate.observe(CurlResponse(status: 429, body: [], headers: ["retry-after": value]))
        #expect(gate.pausedUntil() - clock.now() == pause, "Retry-After \(value)")
    }

    @Test func hostileRateLimitHeadersNeverTrap() {
        let clock = ManualClock()
        let gate = RequestGate(
            limits: BudgetLimits(),
            metrics: ExporterMetrics(version: "", revision: ""),
            clock: clock
        )
        for value in ["nan", "-0", "1e308", "99999999999999999999", "x"] {
            gate.observe(
                CurlResponse(status: 200, body: [], headers: ["ratelimit-remaining": "0", "ratelimit-reset": value])
            )
        }
        #expect(gate.pausedUntil() - clock.now() == 3600)
        #expect(!gate.observe(CurlResponse(status: 200, body: [], headers: ["ratelimit-remaining": "nan"])))
    }

    @Test func aReloadKeepsWhatTheBudgetCounted() async {
        let fake = FakeTransport()
        let h = Harness(fake: fake, budget: BudgetLimits(perMinute: 3))
        _ = await h.fetch()  // a token and a runStatus: 2 of 3
        h.client.update(
            settings: .init(baseURL: "https://zuora.test", timeout: 10),
            credentials: Harness.credentials,
            budget: BudgetLimits(perMinute: 4),
            maxConcurrency: 4
        )
        _ = await h.fetch()
        _ = await h.fetch()  // 4 of 4
        #expect(fake.runStatusRequests.count == 3)
        #expect(fake.tokenRequests == 1, "unchanged credentials keep the token")
        let held = Task { await h.fetch() }
        #expect(await settle { h.clock.sleeperCount == 1 })
        #expect(fake.runStatusRequests.count == 3, "the fifth request waits: the reload did not reset the count")
        h.clock.advance(by: 60)
        _ = await held.value
        #expect(fake.runStatusRequests.count == 4)
    }
}

/// `RequestBudget` on its own.
@Suite struct RequestBudgetTests {
    @Test func updateKeepsCountsAndChangesOnlyTheCaps() {
        var budget = RequestBudget(limits: BudgetLimits(perMinute: 10, perHour: 100))
        for _ in 0..<5 { #expect(budget.reserve(now: 1000) == nil) }
        budget.pause(until: 1005)
        budget.update(limits: BudgetLimits(perMinute: 6, perDay: 50))
        #expect(budget.pausedUntil == 1005, "a pause Zuora asked for stays")
        #expect(budget.remaining(now: 1010).map(\.window) == ["minute", "day"])
        #expect(budget.remaining(now: 1010).map(\.remaining) == [1, 50], "the minute kept its 5, the day starts empty")
        #expect(budget.reserve(now: 1010) == nil)
        #expect(budget.reserve(now: 1010) != nil, "the sixth request of the minute waits")
        #expect(budget.reserve(now: 1061) == nil, "until the minute has passed")
    }

    @Test func aNaNPauseIsIgnored() {
        var budget = RequestBudget(limits: BudgetLimits())
        budget.pause(until: 2000)
        budget.pause(until: .nan)
        budget.pause(until: .infinity)
        #expect(budget.pausedUntil == 2000)
    }
}
