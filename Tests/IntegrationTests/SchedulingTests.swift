import ExpositionParser
import Foundation
import Testing

/// The poll intervals and the request budget from the configuration file, as the running exporter applies
/// them, and the request cost `--config.check` prints. The rules themselves (intervals by status, stretching,
/// back-off, Retry-After) are tested in process on a manual clock: `PollerIntervalTests`, `BudgetPlanTests`,
/// `GateTests`; the one end-to-end Retry-After pause is `FaultTests`.
@Suite(.serialized)
struct SchedulingTests {
    @Test func theConfiguredIntervalsAndBudgetAreInForce() throws {
        // 2 meters every 100 ms would be 1,200 requests a minute; the budget allows 30.
        let stack = try Stack(
            pollInterval: "100ms",
            idlePollInterval: "3s",
            extraZuora: "  request_budget:\n    per_minute: 30\n",
            startExporter: false
        )
        stack.setStatus(101, #""RUNNING""#)
        stack.setStatus(102, #""COMPLETED""#)
        try stack.startExporter()
        // One active and one resting meter: 10 + 1/3 requests a second against 28.5 a minute.
        let stretch = (1 / 0.1 + 1 / 3.0) / (30 * 0.95 / 60)
        func shown(_ samples: [Sample], _ state: String) -> Double {
            samples.value("zuora_exporter_effective_poll_interval_seconds", ["state": state]) ?? 0
        }
        // Until 102 is known to be at rest, both count as active and the stretch is larger.
        #expect(
            stack.waitForMetrics { abs(shown($0, "active") - 0.1 * stretch) < 0.01 },
            "\(shown(stack.metrics(), "active"))"
        )
        let samples = stack.metrics()
        #expect(abs(shown(samples, "rest") - 3 * stretch) < 0.01, "rest: \(shown(samples, "rest")) s")
        let remaining = try #require(samples.value("zuora_api_request_budget_remaining", ["window": "minute"]))
        let stats = stack.simulatorStats()
        let spent = (stats["runStatusRequests"] ?? 0) + (stats["tokenRequests"] ?? 0)
        #expect(remaining < 30 && remaining >= Double(30 - spent), "remaining \(remaining), spent \(spent)")
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
