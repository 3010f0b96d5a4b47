import Testing

@testable import MediationCore

/// The request budget: how `PollPlan` stretches intervals to fit it, and the hard caps `RequestBudget`
/// enforces per window. (Keeping counts across a reload and ignoring a NaN pause are in
/// `ZuoraClientTests.RequestBudgetTests`; Retry-After and ratelimit headers in `GateTests`.)
struct BudgetPlanTests {
    @Test func aBudgetThatFitsStretchesNothing() {
        let plan = PollPlan(activeInterval: 15, restInterval: 300, budget: BudgetLimits(perMinute: 100))
        #expect(plan.stretch(active: 20, resting: 0) == 1, "80 a minute fit 95")
        #expect(plan.stretch(active: 0, resting: 0) == 1)
        #expect(
            PollPlan(activeInterval: 1, restInterval: 1, budget: BudgetLimits()).stretch(active: 999, resting: 0) == 1
        )
    }

    @Test func theTightestWindowSetsTheStretch() {
        // 20 meters every 15 s: 80 a minute, 4,800 an hour, 115,200 a day against the api_sandbox caps.
        let plan = PollPlan(
            activeInterval: 15,
            restInterval: 300,
            budget: BudgetLimits(perMinute: 2500, perHour: 5000, perDay: 10_000)
        )
        let factor = plan.stretch(active: 20, resting: 0)
        #expect(abs(factor - 115_200 / 9_500) < 1e-9, "the day's cap with 5 % headroom: \(factor)")
        #expect(plan.stretch(active: 0, resting: 20) == 1, "at rest (240 an hour, 5,760 a day) they fit")
    }

    /// Polls every meter at the stretched intervals, spread evenly, for two days (or a few hours), through a
    /// `RequestBudget` with the same caps: the steady state never hits a cap and uses most of the tightest.
    @Test(arguments: [
        (20, 0, BudgetLimits(perMinute: 2500, perHour: 5000, perDay: 10_000), 2 * 86_400.0),
        (200, 0, BudgetLimits(perMinute: 100), 3600.0),
        (30, 70, BudgetLimits(perMinute: 200, perHour: 3000), 3 * 3600.0),
    ])
    func theSteadyStateAtTheStretchedIntervalsFitsEveryWindowWithHeadroom(
        active: Int,
        resting: Int,
        limits: BudgetLimits,
        duration: Double
    ) {
        let plan = PollPlan(activeInterval: 15, restInterval: 300, budget: limits)
        let factor = plan.stretch(active: active, resting: resting)
        #expect(factor > 1, "this fleet needs stretching")
        var times: [Double] = []
        for (count, interval) in [(active, 15.0 * factor), (resting, 300.0 * factor)] where count > 0 {
            for meter in 0..<count {
                var time = 1000 + interval * Double(meter) / Double(count)
                while time < 1000 + duration {
                    times.append(time)
                    time += interval
                }
            }
        }
        var budget = RequestBudget(limits: limits)
        var refused = 0
        for time in times.sorted() where budget.reserve(now: time) != nil { refused += 1 }
        #expect(refused == 0, "\(refused) of \(times.count) polls over a cap")
        let tightest = limits.windows.map { Double($0.limit) / $0.seconds }.min() ?? 0
        let used = Double(times.count) / duration / tightest
        #expect(used > 0.93 && used < 0.955, "uses \(used) of the tightest cap, keeping 5 % for tokens")
    }

    @Test func aRequestOverTheMinutesCapWaitsUntilTheOldestLeavesTheWindow() {
        var budget = RequestBudget(limits: BudgetLimits(perMinute: 3))
        for time in [1000.0, 1010, 1020] { #expect(budget.reserve(now: time) == nil) }
        #expect(budget.reserve(now: 1030) == 1060, "the request of 1000 leaves the window at 1060")
        #expect(budget.remaining(now: 1030).map(\.remaining) == [0], "a refused request is not counted")
        #expect(budget.reserve(now: 1059) == 1060)
        #expect(budget.reserve(now: 1060) == nil)
        #expect(budget.reserve(now: 1061) == 1070, "then the request of 1010 leaves at 1070")
    }

    @Test func theHoursCapHoldsWhileTheMinuteHasRoom() {
        var budget = RequestBudget(limits: BudgetLimits(perMinute: 10, perHour: 12))
        for _ in 0..<6 { #expect(budget.reserve(now: 1000) == nil) }
        for _ in 0..<6 { #expect(budget.reserve(now: 1100) == nil) }
        #expect(budget.remaining(now: 1200).map(\.window) == ["minute", "hour"])
        #expect(budget.remaining(now: 1200).map(\.remaining) == [10, 0])
        #expect(budget.reserve(now: 1200) == 4600, "until the first six leave the hour")
        #expect(budget.reserve(now: 4599) == 4600)
        #expect(budget.reserve(now: 4600) == nil)
        #expect(budget.remaining(now: 4600).map(\.remaining) == [9, 5])
    }

    @Test func aPauseHoldsEveryRequestUntilItEndsAndIsNeverShortened() {
        var budget = RequestBudget(limits: BudgetLimits(perMinute: 100))
        budget.pause(until: 1100)
        budget.pause(until: 1050)
        #expect(budget.pausedUntil == 1100, "a shorter pause does not lift a longer one")
        #expect(budget.reserve(now: 1000) == 1100)
        #expect(budget.reserve(now: 1099.9) == 1100)
        #expect(budget.remaining(now: 1099.9).map(\.remaining) == [100], "held requests are not counted")
        #expect(budget.reserve(now: 1100) == nil)
        #expect(budget.remaining(now: 1100).map(\.remaining) == [99])
        var unlimited = RequestBudget(limits: BudgetLimits())
        unlimited.pause(until: 10)
        #expect(unlimited.reserve(now: 5) == 10, "a pause holds requests without any cap")
        #expect((0..<1000).allSatisfy { _ in unlimited.reserve(now: 10) == nil }, "no cap: nothing refused")
    }

    @Test func remainingCountsDownAndRecoversAsTheWindowSlides() {
        var budget = RequestBudget(limits: BudgetLimits(perMinute: 5))
        for offset in 0..<4 { #expect(budget.reserve(now: 1000 + Double(offset) * 20) == nil) }
        #expect(budget.remaining(now: 1060).map(\.remaining) == [2], "the request of 1000 has left")
        #expect(budget.remaining(now: 1119).map(\.remaining) == [4])
        #expect(budget.remaining(now: 5000).map(\.remaining) == [5])
    }

    @Test func eachShardGetsItsShareOfTheBudget() {
        let limits = BudgetLimits(perMinute: 100, perHour: 5)
        #expect(limits.share(of: 3) == BudgetLimits(perMinute: 33, perHour: 1))
        #expect(limits.share(of: 1) == limits)
        #expect(BudgetLimits(perDay: 2).share(of: 10) == BudgetLimits(perDay: 1), "never a cap of 0")
    }

    @Test func theConfigCheckSaysWhenThePollerWillStretchIntervals() {
        let plan = PollPlan(activeInterval: 15, restInterval: 300, budget: BudgetLimits(perHour: 1000))
        let lines = plan.report(meters: 20, tenantType: nil)
        #expect(lines.first == "requests at worst (all 20 meter-versions active): 4800/hour, 115200/day")
        let warnings = lines.filter { $0.hasPrefix("warning:") }
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("exceed zuora.request_budget of 1000") == true)
        #expect(warnings.first?.contains("the poller stretches intervals") == true, "\(warnings)")
        let fits = PollPlan(activeInterval: 15, restInterval: 300, budget: BudgetLimits(perHour: 5000))
        #expect(fits.report(meters: 20, tenantType: nil).allSatisfy { !$0.hasPrefix("warning:") })
    }
}
