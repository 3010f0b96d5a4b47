import Testing

@testable import MediationCore

/// When each meter is due (`PollSchedule`): the spread of new meters, keeping place, back-off and its
/// reset, expedite, cycles, and meters that leave the configuration.
struct PollScheduleTests {
    let meters = (1...6).map { key(Int64($0)) }

    @Test func newMetersAreSpreadOverOneIntervalInStableHashOrder() {
        var schedule = PollSchedule()
        schedule.sync(meters.reversed(), now: 100, spread: 60)
        var taken: [MeterKey] = []
        for slot in 0..<6 {
            let due = 100 + Double(slot) * 10
            #expect(schedule.takeDue(now: due - 0.01) == nil, "nothing goes out before its time")
            #expect(schedule.nextDue() == due)
            if let meter = schedule.takeDue(now: due) { taken.append(meter) }
        }
        let byHash = meters.sorted { StableHash.of($0) < StableHash.of($1) }
        #expect(taken == byHash, "one meter every 10 s in stable-hash order, whatever the configuration's order")

        var shuffled = PollSchedule()
        shuffled.sync([meters[3], meters[0], meters[5], meters[1], meters[4], meters[2]], now: 100, spread: 60)
        #expect((0..<6).compactMap { shuffled.takeDue(now: 100 + Double($0) * 10) } == byHash)
    }

    @Test func metersAddedLaterAreSpreadFromThenAndTheOthersKeepTheirTimes() {
        var schedule = PollSchedule()
        schedule.sync([meters[0]], now: 0, spread: 60)
        _ = schedule.takeDue(now: 0)
        schedule.finished(meters[0], .succeeded, interval: 60, now: 0, jitter: 1, backoffCap: 600)
        schedule.sync([meters[0], meters[1], meters[2]], now: 20, spread: 60)
        let added = [meters[1], meters[2]].sorted { StableHash.of($0) < StableHash.of($1) }
        #expect(schedule.takeDue(now: 20) == added[0])
        #expect(schedule.nextDue() == 50, "the second newcomer half an interval later")
        #expect(schedule.takeDue(now: 50) == added[1])
        #expect(schedule.takeDue(now: 59.9) == nil)
        #expect(schedule.takeDue(now: 60) == meters[0], "the meter already scheduled keeps its time")
    }

    @Test func aSuccessIsDueOneIntervalAfterItsLastDueTimeNotAfterItsAnswer() {
        var schedule = PollSchedule()
        let meter = meters[0]
        schedule.sync([meter], now: 0, spread: 60)
        #expect(schedule.takeDue(now: 4) == meter, "taken 4 s late")
        schedule.finished(meter, .succeeded, interval: 60, now: 7, jitter: 1, backoffCap: 600)
        #expect(schedule.nextDue() == 60, "slow polls do not make the meter drift")
        _ = schedule.takeDue(now: 60)
        schedule.finished(meter, .succeeded, interval: 60, now: 300, jitter: 1, backoffCap: 600)
        #expect(schedule.nextDue() == 300, "an answer later than the next due time: due at once, not in the past")
    }

    /// Delays after 1…7 consecutive failures with a 60 s interval and a 600 s cap.
    @Test(arguments: [
        (1.0, [60.0, 120, 240, 480, 600, 600, 600]),
        (0.25, [60.0, 60, 60, 120, 150, 150, 150]),
        (0.0, [60.0, 60, 60, 60, 60, 60, 60]),
    ])
    func failuresBackOffExponentiallyWithFullJitterFromTheIntervalToTheCap(jitter: Double, delays: [Double]) {
        var schedule = PollSchedule()
        let meter = meters[0]
        schedule.sync([meter], now: 0, spread: 60)
        var seen: [Double] = []
        var now = 0.0
        for _ in delays {
            _ = schedule.takeDue(now: now)
            schedule.finished(meter, .meterFault, interval: 60, now: now, jitter: jitter, backoffCap: 600)
            let due = schedule.nextDue() ?? .nan
            seen.append(due - now)
            now = due
        }
        #expect(seen == delays)
    }

    @Test func aCapBelowTheIntervalNeverPollsAFailingMeterMoreOftenThanAHealthyOne() {
        var schedule = PollSchedule()
        schedule.sync([meters[0]], now: 0, spread: 60)
        for round in 0..<4 {
            let now = Double(round) * 60
            _ = schedule.takeDue(now: now)
            schedule.finished(meters[0], .meterFault, interval: 60, now: now, jitter: 1, backoffCap: 10)
            #expect(schedule.nextDue() == now + 60)
        }
    }

    @Test func aSuccessResetsTheBackoff() {
        var schedule = PollSchedule()
        let meter = meters[0]
        schedule.sync([meter], now: 0, spread: 60)
        var now = 0.0
        for _ in 0..<4 {
            _ = schedule.takeDue(now: now)
            schedule.finished(meter, .meterFault, interval: 60, now: now, jitter: 1, backoffCap: 600)
            now = schedule.nextDue() ?? .nan
        }
        #expect(now == 900, "60 + 120 + 240 + 480")
        _ = schedule.takeDue(now: now)
        schedule.finished(meter, .succeeded, interval: 60, now: now, jitter: 1, backoffCap: 600)
        #expect(schedule.nextDue() == 960)
        _ = schedule.takeDue(now: 960)
        schedule.finished(meter, .meterFault, interval: 60, now: 960, jitter: 1, backoffCap: 600)
        #expect(schedule.nextDue() == 1020, "the next failure starts from the first step again")
    }

    @Test func expeditePullsAMeterForwardButNeverPushesItBackOrDoublesAPoll() {
        var schedule = PollSchedule()
        let (a, b) = (meters[0], meters[1])
        schedule.sync([a, b], now: 0, spread: 60)
        for _ in 0..<2 {
            let due = schedule.nextDue() ?? .nan
            let meter = schedule.takeDue(now: due)!
            schedule.finished(meter, .succeeded, interval: 60, now: due, jitter: 1, backoffCap: 600)
        }
        // Due at 60 and 90, in some order.
        let later = schedule.takeDue(now: 60).map { $0 == a ? b : a }!
        schedule.expedite(later, to: 70)
        #expect(schedule.nextDue() == 70)
        #expect(schedule.takeDue(now: 70) == later)
        schedule.finished(later, .succeeded, interval: 60, now: 70, jitter: 1, backoffCap: 600)
        #expect(schedule.nextDue() == 130, "keeps its place from the expedited poll")

        schedule.expedite(later, to: 500)
        #expect(schedule.nextDue() == 130, "expedite never delays a poll")
        let first = later == a ? b : a
        schedule.expedite(first, to: 75)
        #expect(schedule.takeDue(now: 75) == nil, "a meter being polled is not polled twice")
        schedule.finished(first, .succeeded, interval: 60, now: 76, jitter: 1, backoffCap: 600)
        #expect(schedule.nextDue() == 120)
        schedule.expedite(key(999), to: 0)
        #expect(schedule.count == 2 && schedule.nextDue() == 120, "an unknown meter is not scheduled")
    }

    @Test func aCycleEndsWhenEveryMeterGotAnAnswerAndTenantFaultsDoNotCount() {
        var schedule = PollSchedule()
        let three = Array(meters.prefix(3))
        schedule.sync(three, now: 0, spread: 30)
        let order = three.sorted { StableHash.of($0) < StableHash.of($1) }
        _ = schedule.takeDue(now: 0)
        #expect(schedule.finished(order[0], .succeeded, interval: 30, now: 1, jitter: 1, backoffCap: 600) == nil)
        _ = schedule.takeDue(now: 10)
        #expect(schedule.finished(order[1], .meterFault, interval: 30, now: 11, jitter: 1, backoffCap: 600) == nil)
        _ = schedule.takeDue(now: 20)
        #expect(
            schedule.finished(order[2], .tenantFault, interval: 30, now: 21, jitter: 1, backoffCap: 600) == nil,
            "a tenant fault got no answer about the meter"
        )
        _ = schedule.takeDue(now: 25)
        let cycle = schedule.finished(order[2], .succeeded, interval: 30, now: 26, jitter: 1, backoffCap: 600)
        #expect(cycle == 26, "a meter fault is an answer; the cycle took 26 s")

        var now = 26.0
        var second: Double?
        while second == nil, let due = schedule.nextDue(), let meter = schedule.takeDue(now: due) {
            now = due
            second = schedule.finished(meter, .succeeded, interval: 30, now: now, jitter: 1, backoffCap: 600)
        }
        #expect(second == now - 26, "the next cycle counts from the end of the last")
    }

    @Test func metersRemovedBySyncAreNeverDueAgainAndHoldUpNoCycle() {
        var schedule = PollSchedule()
        let three = Array(meters.prefix(3))
        schedule.sync(three, now: 0, spread: 30)
        let order = three.sorted { StableHash.of($0) < StableHash.of($1) }
        #expect(schedule.takeDue(now: 0) == order[0])
        schedule.sync([order[1]], now: 1, spread: 30)
        #expect(schedule.count == 1)
        #expect(
            schedule.finished(order[0], .succeeded, interval: 30, now: 2, jitter: 1, backoffCap: 600) == nil,
            "a poll that ends after its meter was removed schedules nothing"
        )
        #expect(schedule.nextDue() == 10)
        #expect(schedule.takeDue(now: 10) == order[1])
        let cycle = schedule.finished(order[1], .succeeded, interval: 30, now: 10, jitter: 1, backoffCap: 600)
        #expect(cycle == 10, "the removed meters do not hold the cycle up")
        #expect(schedule.takeDue(now: 1000) == order[1], "only the remaining meter is ever due")
        #expect(schedule.takeDue(now: 1000) == nil)

        schedule.sync([order[1], order[2]], now: 1000, spread: 30)
        #expect(schedule.takeDue(now: 1000) == order[2], "a meter added again starts afresh")
    }
}
