import ExpositionParser
import Foundation
import Testing

/// Record counts of runs: the summary fetched when a run ends and the periodic snapshots of running sessions,
/// end to end between the simulator (runs with records, the summary API, both callouts) and the exporter.
@Suite(.serialized)
struct RecordsTests {
    static let password = "rec-pass-\(UUID().uuidString.prefix(6))"

    /// The exporter's `summary:` and `webhook:` sections (Basic auth, password in a temporary file).
    static func config(summary: String = "summary:\n  enabled: true\n", webhook: Bool = true) throws -> String {
        guard webhook else { return summary }
        let passwordFile = FileManager.default.temporaryDirectory.appendingPathComponent("zme-pw-\(UUID().uuidString)")
        try password.write(to: passwordFile, atomically: true, encoding: .utf8)
        return summary + "webhook:\n  basic_auth:\n    username: zuora\n    password_file: \(passwordFile.path)\n"
    }

    /// Simulator flags that send both callouts to the exporter of `stack`'s ports, as Zuora would: Basic auth
    /// after the 401 challenge, retries one second apart.
    static func calloutFlags(exporterPort: Int, periodic: String? = "1s") -> [String] {
        let base = "http://127.0.0.1:\(exporterPort)"
        var flags = [
            "--callout.status-url", "\(base)/webhooks/meter-session-status",
            "--callout.username", "zuora", "--callout.password", password,
            "--callout.retry-delay", "1s", "--callout.attempts", "5",
        ]
        if let periodic {
            flags += [
                "--callout.periodic-url", "\(base)/webhooks/meter-session-periodic-status",
                "--callout.periodic-interval", periodic,
            ]
        }
        return flags
    }

    static func records(_ samples: [Sample], _ outcome: String, meterId: Int = 101) -> Double? {
        samples.value("zuora_meter_last_session_records", meter(meterId).merging(["outcome": outcome]) { $1 })
    }

    static func summaryRequests(_ samples: [Sample]) -> Double {
        samples.all("zuora_api_requests_total", ["endpoint": "summary"]).reduce(0) { $0 + $1.value }
    }

    @Test func aFailedRunYieldsItsRecordCountsPerOperatorAndErrorCodeWithinOnePollInterval() throws {
        let stack = try Stack(
            simulatedMeters: "101",
            meterConfig: "  - id: 101\n",
            pollInterval: "1s",
            extraConfig: try Self.config(webhook: false),
            startExporter: false
        )
        stack.setStatus(101, #""RUNNING""#)
        try stack.startExporter()
        #expect(stack.waitForMetrics { $0.value("zuora_meter_run_status", meter(101)) == 5 })
        #expect(Self.records(stack.metrics(), "error") == nil, "no summary before a run ended")

        stack.setStatus(101, #""FAILED""#)
        let failedAt = Date()
        // One poll interval (1 s) and a little for two processes on a busy machine.
        #expect(stack.waitForMetrics(timeout: 2.5) { Self.records($0, "error") != nil })
        let delay = Date().timeIntervalSince(failedAt)
        print("records of the failed run on /metrics \(String(format: "%.2f", delay)) s after the failure")

        let samples = stack.metrics()
        let output = try #require(Self.records(samples, "output"))
        let errors = try #require(Self.records(samples, "error"))
        #expect(errors > 0, "a failed run has error records")
        let operators = samples.all("zuora_meter_last_session_operator_records", meter(101))
        #expect(Set(operators.compactMap { $0.labels["operator_id"] }).isSuperset(of: ["op-read", "op-write"]))
        let operatorErrors = operators.filter { $0.labels["outcome"] == "error" }.reduce(0) { $0 + $1.value }
        let operatorOutput = operators.filter { $0.labels["outcome"] == "output" }.reduce(0) { $0 + $1.value }
        #expect(operatorErrors == errors && operatorOutput == output, "operators add up to the session")
        let codes = samples.all("zuora_meter_last_session_error_records", meter(101))
        #expect(!codes.isEmpty && codes.allSatisfy { $0.labels["error_code"]?.hasPrefix("E_") == true })
        #expect(codes.reduce(0) { $0 + $1.value } == errors, "error codes add up to the session's errors")
        #expect(samples.value("zuora_meter_records_total", meter(101).merging(["outcome": "error"]) { $1 }) == errors)
        #expect((samples.value("zuora_meter_last_session_records_timestamp_seconds", meter(101)) ?? 0) > 1e9)

        // The same numbers as the simulator's own summary of everything the meter did.
        let truth = try simulatorSummary(stack, meterId: 101, body: #"{"groupBy":"operatorId"}"#)
        #expect(truth.reduce(0) { $0 + $1.errors } == errors && truth.reduce(0) { $0 + $1.output } == output)
        #expect(Self.summaryRequests(samples) == 1)
    }

    @Test func aRunReportedByAPollAndByCalloutsIsSummarisedOnceAndEachCalloutCountedOnce() throws {
        let exporterPort = freePort()
        let stack = try Stack(
            simulatedMeters: "101",
            meterConfig: "  - id: 101\n",
            pollInterval: "300ms",
            extraConfig: try Self.config(),
            startExporter: false,
            exporterPort: exporterPort,
            simulatorArguments: Self.calloutFlags(exporterPort: exporterPort, periodic: nil)
        )
        // The exporter is not up yet: the simulator's first callout fails and is retried a second later.
        stack.setStatus(101, #""RUNNING""#)
        try stack.startExporter()
        #expect(stack.waitForMetrics { $0.value("zuora_meter_run_status", meter(101)) == 5 })
        #expect(
            stack.waitForMetrics { samples in
                samples.value("zuora_webhook_requests_total", ["event": "status_change", "result": "accepted"]) == 1
            },
            "the retried callout arrives: \(stack.simulatorStats())"
        )

        stack.setStatus(101, #""FAILED""#)
        #expect(stack.waitForMetrics { Self.records($0, "error") != nil })
        // Both the poll and the callout have seen FAILED; give a second summary every chance to happen.
        #expect(
            stack.waitForMetrics { samples in
                samples.value("zuora_webhook_requests_total", ["event": "status_change", "result": "accepted"]) == 2
            },
            "\(stack.simulatorStats())"
        )
        Thread.sleep(forTimeInterval: 2)
        let samples = stack.metrics()
        #expect(stack.simulatorStats()["summaryRequests"] == 1, "one summary: \(stack.simulatorStats())")
        #expect(Self.summaryRequests(samples) == 1)
        let transitions = samples.all("zuora_meter_run_status_transitions_total", meter(101))
        #expect(transitions.filter { $0.labels["to"] == "FAILED" }.reduce(0) { $0 + $1.value } == 1)
        #expect(samples.value("zuora_meter_run_failures_total", meter(101)) == 1)

        // Every notification the simulator delivered was accepted once; it took more attempts than that
        // (the 401 challenge before each, and the retry of the first).
        let stats = stack.simulatorStats()
        let accepted = samples.all("zuora_webhook_requests_total", ["result": "accepted"]).reduce(0) { $0 + $1.value }
        let duplicates = samples.all("zuora_webhook_requests_total", ["result": "duplicate"]).reduce(0) {
            $0 + $1.value
        }
        #expect(Double(stats["calloutsSent"] ?? -1) == accepted + duplicates, "\(stats)")
        #expect((stats["calloutAttempts"] ?? 0) > (stats["calloutsSent"] ?? 0) + 1, "\(stats)")
        #expect(
            samples.value("zuora_webhook_requests_total", ["event": "status_change", "result": "unauthorized"]) ?? 0
                >= 2
        )
        #expect(!(stack.exporter?.log.contains(Self.password) ?? true))
    }

    @Test func aFailingGarbledOrHungSummaryLeavesTheRunStatusMetricsAsTheyWouldBeWithoutIt() throws {
        let stack = try Stack(
            simulatedMeters: "101,102",
            pollInterval: "300ms",
            extraConfig: try Self.config(summary: "summary:\n  enabled: true\n  max_attempts: 1\n", webhook: false),
            startExporter: false
        )
        // A second exporter on the same simulator without the feature: the reference.
        let plainPort = freePort()
        let plainConfig = FileManager.default.temporaryDirectory.appendingPathComponent("zme-\(UUID().uuidString).yml")
        try """
        zuora:
          base_url: \(stack.simulatorURL)
          timeout: 2s
        poll_interval: 300ms
        idle_poll_interval: 300ms
        meters:
          - id: 101
            name: Usage ingestion
          - id: 102
        """.write(to: plainConfig, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: plainConfig) }
        try stack.startExporter()
        let plain = try ManagedProcess(
            "zuora-mediation-exporter",
            ["--config.file", plainConfig.path, "--web.listen-address", "127.0.0.1:\(plainPort)"],
            environment: ["ZUORA_CLIENT_ID": Stack.clientId, "ZUORA_CLIENT_SECRET": Stack.clientSecret]
        )
        defer { plain.stop() }
        let plainURL = "http://127.0.0.1:\(plainPort)"
        #expect(eventually { http("GET", "\(plainURL)/-/healthy").status == 200 })

        let faults = [
            (#"{"target":"summary","status":500,"body":"{\"success\":false}"}"#, "server_error"),
            (#"{"target":"summary","status":200,"body":"\u0000\u00ff<html>not json"}"#, "decode"),
            (#"{"target":"summary","status":200,"body":"{}","delay":30}"#, "timeout"),
        ]
        for (index, (fault, reason)) in faults.enumerated() {
            stack.control("DELETE", "faults")
            stack.control("POST", "fault", fault)
            stack.setStatus(101, #""RUNNING""#)
            stack.setStatus(102, #""RUNNING""#)
            #expect(
                stack.waitForMetrics { samples in
                    samples.value("zuora_meter_run_status", meter(101)) == 5
                        && samples.value("zuora_meter_run_status", meter(102)) == 5
                }
            )
            stack.setStatus(101, index == 1 ? #""COMPLETED""# : #""FAILED""#)
            // 101's summary given up now; 102's of the round before, too.
            #expect(
                stack.waitForMetrics(timeout: 20) { samples in
                    samples.all("zuora_summaries_given_up_total").reduce(0) { $0 + $1.value } >= Double(2 * index + 1)
                },
                "summary given up (\(reason)): \(stack.metrics().all("zuora_summaries_given_up_total"))"
            )
            // While the summary hangs or fails, polls go on: 102 moves and both exporters see it.
            stack.setStatus(102, #""COMPLETED""#)
            var difference: (only: Set<String>, plainOnly: Set<String>) = ([], [])
            #expect(
                eventually {
                    let expected = Set(runStatusFamilies(parseExposition(http("GET", "\(plainURL)/metrics").body)))
                    let actual = Set(runStatusFamilies(stack.metrics()))
                    difference = (actual.subtracting(expected), expected.subtracting(actual))
                    return actual == expected
                },
                "run-status series differ with the summary failing (\(reason)): \(difference)"
            )
            // 102's summary given up under the same fault, before the next round changes it.
            #expect(
                stack.waitForMetrics(timeout: 20) { samples in
                    samples.all("zuora_summaries_given_up_total").reduce(0) { $0 + $1.value } >= Double(2 * index + 2)
                }
            )
        }
        let failures = stack.metrics().all("zuora_summaries_given_up_total")
        #expect(Set(failures.filter { $0.value > 0 }.compactMap { $0.labels["reason"] }).count >= 2, "\(failures)")
        #expect(stack.metrics().all("zuora_meter_last_session_records").isEmpty, "no summary ever succeeded")
    }

    @Test func tenThousandOperatorIdsStayWithinTheConfiguredLimits() throws {
        let exporterPort = freePort()
        let stack = try Stack(
            simulatedMeters: "101",
            meterConfig: "  - id: 101\n",
            pollInterval: "500ms",
            // A debug simulator takes about a second to answer for 10,000 operators, more on a loaded machine.
            zuoraTimeout: "20s",
            extraConfig: try Self.config(
                summary: "summary:\n  enabled: true\n  max_operators: 20\n  max_error_codes: 5\n"
            ),
            startExporter: false,
            exporterPort: exporterPort,
            simulatorArguments: Self.calloutFlags(exporterPort: exporterPort, periodic: "2s") + ["--callout.preemptive"]
        )
        stack.control("POST", "meters/101/0.0.1/records", #"{"operators":10000,"errorRate":0.5}"#)
        try stack.startExporter()
        stack.setStatus(101, #""RUNNING""#)
        // Snapshots of many operators arrive; the running session shows at most 20 of them and "other".
        #expect(
            stack.waitForMetrics(timeout: 60) { samples in
                (samples.value(
                    "zuora_webhook_requests_total",
                    ["event": "periodic_status", "result": "accepted"]
                ) ?? 0) >= 1000
            },
            "periodic callouts: \(stack.simulatorStats())"
        )
        var samples = stack.metrics()
        for outcome in ["output", "error", "total"] {
            let series = samples.all(
                "zuora_meter_session_operator_records",
                meter(101).merging(["outcome": outcome]) { $1 }
            )
            #expect(series.count <= 21 && series.contains { $0.labels["operator_id"] == "other" }, "\(series.count)")
        }
        stack.setStatus(101, #""FAILED""#)
        let failedAt = Date()
        // A summary that times out is retried 10 s later: the wait covers one retry.
        let summarised = stack.waitForMetrics(timeout: 30) { Self.records($0, "error") != nil }
        let requests = stack.metrics().all("zuora_api_requests_total", ["endpoint": "summary"])
        #expect(summarised, "summary requests: \(requests), simulator: \(stack.simulatorStats())")
        print(String(format: "10,000 operators: records %.2f s after the failure", -failedAt.timeIntervalSinceNow))
        samples = stack.metrics()
        for outcome in ["output", "error"] {
            let series = samples.all(
                "zuora_meter_last_session_operator_records",
                meter(101).merging(["outcome": outcome]) { $1 }
            )
            #expect(series.count <= 21 && series.contains { $0.labels["operator_id"] == "other" }, "\(series.count)")
            let sum = series.reduce(0) { $0 + $1.value }
            #expect(sum == Self.records(samples, outcome), "\"other\" holds the rest of \(outcome)")
        }
        let codes = samples.all("zuora_meter_last_session_error_records", meter(101))
        #expect(codes.count <= 6)
        #expect(samples.all("zuora_meter_session_operator_records").isEmpty, "the ended session's snapshot is gone")
        let rss = samples.value("process_resident_memory_bytes") ?? 0
        #expect(rss < 200 * 1024 * 1024, "RSS \(rss / 1024 / 1024) MiB")
    }

    @Test func periodicSnapshotsUpdateAndVanishWhenTheSessionEnds() throws {
        let exporterPort = freePort()
        let stack = try Stack(
            simulatedMeters: "101,102",
            pollInterval: "300ms",
            extraConfig: try Self.config(),
            startExporter: false,
            exporterPort: exporterPort,
            simulatorArguments: Self.calloutFlags(exporterPort: exporterPort)
        )
        try stack.startExporter()
        stack.setStatus(101, #""RUNNING""#)
        let operatorRead = meter(101).merging(["operator_id": "op-read", "outcome": "total"]) { $1 }
        #expect(stack.waitForMetrics { $0.value("zuora_meter_session_operator_records", operatorRead) != nil })
        let first = stack.metrics().value("zuora_meter_session_last_update_timestamp_seconds", meter(101)) ?? 0
        #expect(
            stack.waitForMetrics {
                ($0.value("zuora_meter_session_last_update_timestamp_seconds", meter(101)) ?? 0) > first
            },
            "a later snapshot updates the series"
        )
        #expect(stack.metrics().all("zuora_meter_session_operator_records", meter(102)).isEmpty, "102 is not running")

        stack.setStatus(101, #""COMPLETED""#)
        #expect(
            stack.waitForMetrics { samples in
                samples.all("zuora_meter_session_operator_records", meter(101)).isEmpty
                    && samples.value("zuora_meter_session_last_update_timestamp_seconds", meter(101)) == nil
            },
            "the snapshot vanishes when the session ends"
        )
        // A late snapshot of the ended session (a retry) does not bring it back.
        Thread.sleep(forTimeInterval: 2.5)
        #expect(stack.metrics().all("zuora_meter_session_operator_records", meter(101)).isEmpty)
        #expect(Self.records(stack.metrics(), "output") != nil, "the ended session was summarised")
    }

    @Test func theRequestBudgetHoldsWithSummariesOn() throws {
        let stack = try Stack(
            simulatedMeters: "101,102",
            pollInterval: "300ms",
            extraZuora: "  request_budget:\n    per_minute: 40\n",
            extraConfig: try Self.config(webhook: false),
            startExporter: false
        )
        let before = stack.simulatorStats()
        try stack.startExporter()
        let started = Date()
        // Runs end one after another, each asking for a summary; each status held until the exporter saw it.
        for _ in 0..<2 {
            for (status, code) in [(#""RUNNING""#, 5.0), (#""FAILED""#, 8.0)] {
                for id in [101, 102] { stack.setStatus(id, status) }
                #expect(
                    stack.waitForMetrics(timeout: 20) { samples in
                        [101, 102].allSatisfy { samples.value("zuora_meter_run_status", meter($0)) == code }
                    }
                )
            }
        }
        #expect(stack.waitForMetrics(timeout: 40) { Self.summaryRequests($0) >= 1 }, "\(stack.simulatorStats())")
        let elapsed = Date().timeIntervalSince(started)
        let stats = stack.simulatorStats()
        let used = ["tokenRequests", "runStatusRequests", "summaryRequests"].reduce(0) {
            $0 + (stats[$1] ?? 0) - (before[$1] ?? 0)
        }
        // At most 40 in any minute; the test lasted under two.
        #expect(elapsed < 60 ? used <= 40 : used <= 80, "\(used) requests in \(Int(elapsed)) s: \(stats)")
        let samples = stack.metrics()
        #expect(Self.summaryRequests(samples) == Double(stats["summaryRequests"] ?? -1))
        #expect(samples.value("zuora_meter_run_failures_total", meter(101)) == 2, "polls went on")
    }
}

/// The run-status series that must not depend on the summary feature, without timestamps.
func runStatusFamilies(_ samples: [Sample]) -> [String] {
    let names: Set = [
        "zuora_meter_run_status", "zuora_meter_run_state", "zuora_meter_run_status_transitions_total",
        "zuora_meter_run_failures_total", "zuora_meter_poll_success", "zuora_meter_info",
    ]
    return samples.filter { names.contains($0.name) }
        .map { "\($0.name)\($0.labels.sorted { $0.key < $1.key }) \($0.value)" }.sorted()
}

/// One group of the simulator's own summary answer.
struct SummaryGroup {
    var output: Double
    var errors: Double
}

/// The simulator's answer to `POST /meters/{id}/summary` with `body`, with a token of its own.
func simulatorSummary(_ stack: Stack, meterId: Int, body: String) throws -> [SummaryGroup] {
    let token = http(
        "POST",
        "\(stack.simulatorURL)/oauth/token",
        body: "client_id=\(Stack.clientId)&client_secret=\(Stack.clientSecret)&grant_type=client_credentials",
        headers: ["Content-Type: application/x-www-form-urlencoded"]
    )
    let tokenObject = try JSONSerialization.jsonObject(with: Data(token.body.utf8)) as? [String: Any]
    let accessToken = try #require(tokenObject?["access_token"] as? String)
    let answer = http(
        "POST",
        "\(stack.simulatorURL)/meters/\(meterId)/summary",
        body: body,
        headers: ["Authorization: Bearer \(accessToken)", "Content-Type: application/json"]
    )
    #expect(answer.status == 200, "\(answer.body)")
    let object = try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
    let groups = try #require(object?["data"] as? [[String: Any]])
    return groups.map { group in
        SummaryGroup(
            output: (group["outputCount"] as? NSNumber)?.doubleValue ?? 0,
            errors: (group["errorCount"] as? NSNumber)?.doubleValue ?? 0
        )
    }
}
