import Foundation
import Testing

/// Adaptive intervals, the request budget and Zuora's back-off signals, against the simulator with a
/// short clock.
@Suite(.serialized)
struct SchedulingTests {
    @Test func metersAtRestArePolledLessOftenThanActiveOnes() throws {
        let stack = try Stack(pollInterval: "200ms", idlePollInterval: "3s", startExporter: false)
        stack.setStatus(101, #""RUNNING""#)
        stack.setStatus(102, #""COMPLETED""#)
        try stack.startExporter()
        // Counted from the first polls: a sanitized build starts slowly.
        #expect(eventually { stack.polls(of: 101) > 0 && stack.polls(of: 102) > 0 })
        let (activeBefore, restingBefore) = (stack.polls(of: 101), stack.polls(of: 102))
        Thread.sleep(forTimeInterval: 4)
        let active = stack.polls(of: 101) - activeBefore
        let resting = stack.polls(of: 102) - restingBefore
        #expect(active >= 10, "RUNNING polled every 200 ms (\(active) polls in 4 s)")
        #expect((1...3).contains(resting), "COMPLETED polled every 3 s (\(resting) polls in 4 s)")
        let samples = stack.metrics()
        #expect(samples.value("zuora_exporter_effective_poll_interval_seconds", ["state": "active"]) == 0.2)
        #expect(samples.value("zuora_exporter_effective_poll_interval_seconds", ["state": "rest"]) == 3)
    }

    @Test func theRequestBudgetIsNeverExceeded() throws {
        // 2 meters every 100 ms would be 1,200 requests a minute; the budget allows 30.
        let stack = try Stack(
            pollInterval: "100ms",
            extraZuora: "  request_budget:\n    per_minute: 30\n",
            startExporter: false
        )
        stack.setStatus(101, #""RUNNING""#)
        stack.setStatus(102, #""RUNNING""#)
        try stack.startExporter()
        Thread.sleep(forTimeInterval: 6)
        func spentSoFar() -> Int {
            let stats = stack.simulatorStats()
            return (stats["runStatusRequests"] ?? 0) + (stats["tokenRequests"] ?? 0)
        }
        // The gauge and the simulator's count are read apart: read them until no request came between.
        var (spent, samples) = (0, [Sample]())
        #expect(
            eventually {
                spent = spentSoFar()
                samples = stack.metrics()
                return spentSoFar() == spent
            }
        )
        #expect(spent <= 30, "at most 30 requests in a minute window (\(spent) in 6 s)")
        #expect(spent >= 2, "polling still happens (\(spent))")
        let remaining = try #require(samples.value("zuora_api_request_budget_remaining", ["window": "minute"]))
        #expect(
            remaining == Double(30 - spent) || remaining == Double(30 - spent + 1),
            "remaining \(remaining), spent \(spent)"
        )
        let stretched = try #require(
            samples.value("zuora_exporter_effective_poll_interval_seconds", ["state": "active"])
        )
        #expect(stretched >= 4, "intervals stretch evenly to fit 28.5 requests a minute over 2 meters: \(stretched)")
    }

    @Test func retryAfterOn429PausesTheWholeTenant() throws {
        let stack = try Stack(pollInterval: "100ms", startExporter: false)
        stack.setStatus(101, #""RUNNING""#)
        stack.setStatus(102, #""RUNNING""#)
        try stack.startExporter()
        #expect(stack.waitForMetrics { $0.value("zuora_meter_run_status", meter(101)) == 5 })
        stack.control("POST", "meters/101/0.0.1/fault", #"{"status":429,"count":1,"retryAfter":6}"#)
        #expect(
            stack.waitForMetrics {
                ($0.value("zuora_meter_poll_errors_total", meter(101).merging(["reason": "rate_limited"]) { $1 }) ?? 0)
                    >= 1
            }
        )
        // 2 s inside the 6 s pause, however long noticing the 429 took.
        let during = stack.simulatorStats()["runStatusRequests"] ?? 0
        Thread.sleep(forTimeInterval: 2)
        let after = stack.simulatorStats()["runStatusRequests"] ?? 0
        #expect(after - during <= 2, "no meter is polled while the tenant waits (\(after - during) requests)")
        #expect(
            stack.waitForMetrics(timeout: 20) { _ in (stack.simulatorStats()["runStatusRequests"] ?? 0) > after + 5 },
            "polling resumes"
        )
        #expect(stack.metrics().value("zuora_meter_poll_success", meter(101)) == 1)
    }

    @Test func configCheckPrintsTheRequestCostAndWarnsAboutTheBudget() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("zme-cost-\(UUID().uuidString).yml")
        let meters = (1...20).map { "  - id: \($0)" }.joined(separator: "\n")
        try
            "zuora:\n  base_url: https://rest.apisandbox.zuora.com\n  tenant_type: api_sandbox\npoll_interval: 15s\nmeters:\n\(meters)\n"
            .write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let result = try runTool(
            binDirectory.appendingPathComponent("zuora-mediation-exporter").path,
            ["--config.file", url.path, "--config.check"],
            environment: ["ZUORA_CLIENT_ID": "a", "ZUORA_CLIENT_SECRET": "b"]
        )
        #expect(result.status == 0)
        #expect(result.output.contains("4800/hour"), "20 meters every 15 s: \(result.output)")
        #expect(result.output.contains("240/hour"), "at rest every 5 m: \(result.output)")
        #expect(
            result.output.contains(
                "warning: at worst 115200 requests a day exceed the api_sandbox tenant limit of 10000"
            )
        )
    }
}
