import ExpositionParser
import Foundation
import Testing

/// Every panel query of the Grafana dashboard, with its variables substituted, runs against a real
/// Prometheus that scrapes the exporter fed by the simulator: each must be valid PromQL and return data.
@Suite(.serialized)
struct DashboardTests {
    @Test func everyDashboardQueryIsValidAndReturnsData() throws {
        // Summaries on, and the simulator sending both callouts (status changes, snapshots every second).
        let webhook = "webhook:\n  insecure: true\nsummary:\n  enabled: true\n"
        let exporterPort = freePort()
        let hooks = "http://127.0.0.1:\(exporterPort)/webhooks"
        let stack = try Stack(
            meterConfig: "  - id: 101\n    name: Usage ingestion\n  - id: 102\n  - id: 999\n",
            extraZuora: "  request_budget:\n    per_hour: 100000\n",
            extraConfig: webhook,
            startExporter: false,
            exporterPort: exporterPort,
            simulatorArguments: [
                "--callout.status-url", "\(hooks)/meter-session-status",
                "--callout.periodic-url", "\(hooks)/meter-session-periodic-status",
                "--callout.periodic-interval", "1s", "--callout.retry-delay", "1s",
            ]
        )
        stack.setStatus(101, #""RUNNING""#)
        try stack.startExporter()
        #expect(stack.waitForMetrics { $0.value("zuora_meter_run_status", meter(101)) == 5 })
        let (prometheus, port, directory) = try startPrometheus(scraping: stack.exporterPort)
        defer {
            prometheus.stop()
            try? FileManager.default.removeItem(at: directory)
        }
        let base = "http://127.0.0.1:\(port)"
        #expect(
            eventually(timeout: 30) { http("GET", "\(base)/api/v1/query?query=up").body.contains("zuora-mediation") }
        )
        // Data for every panel: a failure (summarised: records per operator and error code), poll errors
        // (999 is unknown to Zuora), the simulator's callouts of ended sessions (durations), and a session
        // still running (snapshots).
        stack.setStatus(101, #""FAILED""#)
        stack.setStatus(102, #""RUNNING""#)
        #expect(stack.waitForMetrics { $0.value("zuora_meter_run_status", meter(102)) == 5 })
        stack.setStatus(102, #""COMPLETED""#)
        #expect(stack.waitForMetrics { $0.value("zuora_meter_run_status", meter(102)) == 7 })
        stack.setStatus(102, #""RUNNING""#)
        #expect(
            stack.waitForMetrics {
                $0.value("zuora_meter_session_operator_records", meter(102)) != nil
                    && ($0.value("zuora_meter_last_session_records", meter(101).merging(["outcome": "error"]) { $1 })
                        ?? 0) > 0
                    && $0.value("zuora_meter_last_session_records", meter(102)) != nil
            },
            "summaries of 101 and 102, snapshots of 102: \(stack.simulatorStats())"
        )
        // A few scrapes after the callouts and the snapshots, so that rates over 1m have two samples.
        for enough in [
            "count_over_time(zuora_meter_session_duration_seconds_count[1m]) >= 3",
            "count_over_time(zuora_meter_session_operator_records[1m]) >= 3",
            "count_over_time(zuora_meter_records_total[1m]) >= 3",
        ] {
            #expect(
                eventually(timeout: 30) {
                    http("GET", "\(base)/api/v1/query", extra: ["-G", "--data-urlencode", "query=\(enough)"])
                        .body.contains(#""result":[{"#)
                },
                "\(enough)"
            )
        }
        let result = try runTool(
            "/usr/bin/python3",
            [
                "scripts/dashboard-queries.py", "--prometheus", base, "--job", "zuora-mediation",
                "grafana/dashboards/zuora-mediation.json",
            ]
        )
        #expect(result.status == 0, "\(result.output)")
    }
}

/// A Prometheus server scraping one exporter every second, with the repository's alert rules loaded.
func startPrometheus(scraping exporterPort: Int) throws -> (ManagedProcess, Int, URL) {
    let port = freePort()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zme-prom-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let rules = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(
        "deploy/prometheus/rules.yml"
    )
    let config = """
        global:
          scrape_interval: 1s
          evaluation_interval: 1s
        rule_files: ['\(rules.path)']
        scrape_configs:
          - job_name: zuora-mediation
            static_configs:
              - targets: ['127.0.0.1:\(exporterPort)']
        """
    try config.write(to: directory.appendingPathComponent("prometheus.yml"), atomically: true, encoding: .utf8)
    let prometheus = try ManagedProcess(
        "/usr/bin/prometheus",
        [
            "--config.file=\(directory.path)/prometheus.yml", "--storage.tsdb.path=\(directory.path)/data",
            "--web.listen-address=127.0.0.1:\(port)",
        ]
    )
    return (prometheus, port, directory)
}

/// `scripts/stack.sh --check`: the local stack brings a simulated failure all the way to Alertmanager.
@Suite(.serialized)
struct LocalStackTests {
    @Test func theLocalStackPagesOnASimulatedFailure() throws {
        let ports = ["SIMULATOR_PORT", "EXPORTER_PORT", "PROMETHEUS_PORT", "ALERTMANAGER_PORT"]
        var environment = Dictionary(uniqueKeysWithValues: ports.map { ($0, String(freePort())) })
        environment["ZME_BIN_DIR"] = binDirectory.path
        let result = try runTool("/bin/bash", ["scripts/stack.sh", "--check"], environment: environment)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("Alertmanager received ZuoraMediationMeterRunFailed"))
    }
}
