import ExpositionParser
import Foundation
import Testing

/// `--storage.path` across a real restart: SIGTERM, start again with the same directory, and /metrics
/// shows what it showed before (status, since when, failure count); a corrupt state file means a fresh
/// start with a warning, never a refusal to run.
@Suite(.serialized)
struct RestartTests {
    static let failed = "zuora_meter_run_failures_total"
    static let since = "zuora_meter_run_status_last_change_timestamp_seconds"
    static let status = "zuora_meter_run_status"

    func storageDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("zme-state-\(UUID().uuidString)")
    }

    /// An exporter keeping its state in `storage`, with meter 101 FAILED (one failure counted) and 102 RUNNING.
    func oneFailedOneRunning(storage: URL) throws -> Stack {
        let stack = try Stack(simulatedMeters: "101,102", startExporter: false)
        stack.setStatus(101, #""RUNNING""#)
        stack.setStatus(102, #""RUNNING""#)
        try stack.startExporter(arguments: ["--storage.path", storage.path])
        #expect(
            stack.waitForMetrics { $0.value(Self.status, meter(101)) == 5 && $0.value(Self.status, meter(102)) == 5 }
        )
        stack.setStatus(101, #""FAILED""#)
        #expect(stack.waitForMetrics { $0.value(Self.failed, meter(101)) == 1 })
        return stack
    }

    @Test func aRestartKeepsStatusesTheirTimestampsAndTheFailureCount() throws {
        let directory = storageDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let stack = try oneFailedOneRunning(storage: directory)
        let before = stack.metrics()
        let failedSince = try #require(before.value(Self.since, meter(101)))
        let stuckSince = try #require(before.value(Self.since, meter(102)))
        #expect(before.value("zuora_exporter_shard_info", ["shard": "0", "total_shards": "1"]) == 1)
        #expect(before.value("zuora_exporter_configured_poll_interval_seconds", ["state": "active"]) == 0.3)

        #expect(stack.exporter?.stop() == 0, "a clean exit on SIGTERM: \(stack.exporter?.log ?? "")")
        #expect(stack.exporter?.log.contains("no saved state") == true)
        let file = directory.appendingPathComponent("state.json")
        #expect(FileManager.default.fileExists(atPath: file.path), "saved on shutdown")
        // A fresh start would stamp the statuses with its own first poll: a second later at least.
        Thread.sleep(forTimeInterval: 1.2)

        try stack.startExporter(arguments: ["--storage.path", directory.path])
        let after = stack.metrics()
        // Restored before the first poll: the first scrape already shows it.
        #expect(after.value(Self.status, meter(101)) == 8, "\(stack.exporter?.log ?? "")")
        #expect(after.value(Self.since, meter(101)) == failedSince)
        #expect(after.value(Self.failed, meter(101)) == 1, "the failure count did not reset")
        #expect(
            after.value(
                "zuora_meter_run_status_transitions_total",
                meter(101).merging(["from": "RUNNING", "to": "FAILED"]) { $1 }
            )
                == 1
        )
        #expect(after.value(Self.since, meter(102)) == stuckSince, "the stuck meter keeps its timestamp")
        #expect(after.value(Self.failed, meter(102)) == 0)
        // And polling goes on from there without counting anything again.
        let polls = stack.polls(of: 101)
        #expect(eventually { stack.polls(of: 101) > polls + 2 })
        let polled = stack.metrics()
        #expect(polled.value(Self.since, meter(101)) == failedSince)
        #expect(polled.value(Self.failed, meter(101)) == 1)
        #expect(stack.exporter?.log.contains("restored saved state") == true)
    }

    @Test(arguments: ["garbage", "truncated", "empty"])
    func aCorruptStateFileMeansAFreshStartWithAWarning(kind: String) throws {
        let directory = storageDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let bytes: Data =
            switch kind {
            case "garbage": Data((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) })
            case "truncated": Data(#"{"version":1,"savedAt":1,"meters":[{"meterId":101,"version":"0.0.1","#.utf8)
            default: Data()
            }
        try bytes.write(to: directory.appendingPathComponent("state.json"))
        let stack = try Stack(simulatedMeters: "101,102", startExporter: false)
        stack.setStatus(101, #""FAILED""#)
        try stack.startExporter(arguments: ["--storage.path", directory.path])
        #expect(stack.waitForMetrics { $0.value(Self.status, meter(101)) == 8 })
        let metrics = stack.metrics()
        #expect(metrics.value(Self.failed, meter(101)) == 0, "fresh: the first observation counts nothing")
        let log = stack.exporter?.log ?? ""
        #expect(log.contains("ignoring the saved state"), "\(log)")
        #expect(log.contains("level=warn"), "\(log)")
        // The next save replaces the corrupt file with a good one.
        #expect(stack.exporter?.stop() == 0)
        let saved = try Data(contentsOf: directory.appendingPathComponent("state.json"))
        #expect((try? JSONSerialization.jsonObject(with: saved)) != nil)
    }

    /// What Prometheus itself sees across the restart: the failure counter did not reset, although the
    /// process did restart (`process_start_time_seconds` changed).
    /// The shipped alert rules, evaluated by a real Prometheus that scrapes across a restart: the FAILED
    /// meter's alert neither resolves nor fires anew (same `activeAt`), the failure counter does not reset,
    /// and the working meter's last change (what the stuck alert measures from) does not move.
    @Test func theRulesNeitherResolveNorResetAcrossTheRestart() throws {
        let directory = storageDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let stack = try oneFailedOneRunning(storage: directory)
        let (prometheus, port, prometheusDirectory) = try startPrometheus(scraping: stack.exporterPort)
        defer {
            prometheus.stop()
            try? FileManager.default.removeItem(at: prometheusDirectory)
        }
        func query(_ promql: String) -> String {
            let encoded = promql.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            return http("GET", "http://127.0.0.1:\(port)/api/v1/query?query=\(encoded)").body
        }
        /// The activeAt of the MeterRunFailed alert for meter 101, once it is firing.
        func failedAlertActiveAt() -> String? {
            let body = http("GET", "http://127.0.0.1:\(port)/api/v1/alerts").body
            guard let data = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                let alerts = (data["data"] as? [String: Any])?["alerts"] as? [[String: Any]]
            else { return nil }
            return alerts.first { alert in
                let labels = alert["labels"] as? [String: String] ?? [:]
                return labels["alertname"] == "ZuoraMediationMeterRunFailed" && labels["meter_id"] == "101"
                    && alert["state"] as? String == "firing"
            }?["activeAt"] as? String
        }
        let failures = #"zuora_meter_run_failures_total{job="zuora-mediation",meter_id="101"}"#
        let lastChange = #"zuora_meter_run_status_last_change_timestamp_seconds{job="zuora-mediation",meter_id="102"}"#
        #expect(
            eventually(timeout: 30) { failedAlertActiveAt() != nil },
            "the FAILED meter pages: \(prometheus.log.suffix(2000))"
        )
        let activeAt = failedAlertActiveAt()
        #expect(query(failures).contains(#","1"]"#))

        #expect(stack.exporter?.stop() == 0)
        try stack.startExporter(arguments: ["--storage.path", directory.path])
        let restarted = #"changes(process_start_time_seconds{job="zuora-mediation"}[5m]) >= 1"#
        #expect(eventually(timeout: 30) { query(restarted).contains(#""value":["#) }, "the restart was scraped")
        Thread.sleep(forTimeInterval: 3)
        #expect(failedAlertActiveAt() == activeAt, "still firing, from the same moment: not resolved, not re-fired")
        let resets = query("resets(\(failures)[5m]) == 0")
        #expect(resets.contains(#""value":["#), "no counter reset: \(resets)")
        #expect(query(failures).contains(#","1"]"#))
        let moved = query("changes(\(lastChange)[5m]) == 0")
        #expect(moved.contains(#""value":["#), "the working meter's last change did not move: \(moved)")
    }
}
