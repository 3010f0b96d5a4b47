import ExpositionParser
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized)
struct EndpointTests {
    @Test func endpointsAnswerAsAnExporterShould() throws {
        let stack = try Stack()
        let base = stack.exporterURL
        #expect(eventually { http("GET", "\(base)/-/ready").status == 200 }, "ready once the first cycle finished")
        let metrics = http("GET", "\(base)/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        for name in [
            "zuora_exporter_build_info", "zuora_exporter_poll_cycle_duration_seconds", "process_cpu_seconds_total",
            "process_resident_memory_bytes", "process_open_fds", "process_max_fds", "process_start_time_seconds",
            "zuora_api_request_duration_seconds_bucket",
        ] {
            #expect(metrics.body.contains("\n\(name)"), "\(name) is exposed")
        }
        #expect(metrics.body.contains("# HELP zuora_meter_run_status ") && metrics.body.contains("polling"))

        let gzip = http("GET", "\(base)/metrics", extra: ["--compressed"])
        #expect(gzip.headers["content-encoding"] == "gzip")
        #expect(Set(parseExposition(gzip.body).map(\.name)) == Set(parseExposition(metrics.body).map(\.name)))

        let landing = http("GET", "\(base)/")
        #expect(
            landing.status == 200 && landing.body.contains("href=\"/metrics\"")
                && landing.body.contains("Usage ingestion")
        )
        #expect(http("GET", "\(base)/nope").status == 404)
        #expect(http("POST", "\(base)/metrics", body: "x").status == 405)
        #expect(stack.exporter?.stop() == 0, "SIGTERM stops cleanly with exit 0")
    }

    @Test func sigintAlsoStopsCleanly() throws {
        let stack = try Stack()
        // Ready means the services run, so their signal handlers are in place.
        #expect(eventually { http("GET", "\(stack.exporterURL)/-/ready").status == 200 })
        #expect(stack.exporter?.stop(signal: SIGINT) == 0)
    }

    @Test func promtoolFindsNothingToCriticise() throws {
        // Every family with samples: a summarised failure and a running session's snapshots too.
        let exporterPort = freePort()
        let stack = try Stack(
            meterConfig: "  - id: 101\n  - id: 102\n  - id: 999\n    version: 'odd\"\\\\'\n",
            extraConfig: "summary:\n  enabled: true\nwebhook:\n  insecure: true\n",
            exporterPort: exporterPort,
            simulatorArguments: [
                "--callout.periodic-url", "http://127.0.0.1:\(exporterPort)/webhooks/meter-session-periodic-status",
                "--callout.periodic-interval", "1s",
            ]
        )
        // Seen at rest first: the failure is then a run's end, which is summarised.
        #expect(stack.waitForMetrics { $0.value("zuora_meter_run_status", meter(101)) == 1 })
        stack.setStatus(101, "8")
        #expect(stack.waitForMetrics { $0.value("zuora_meter_last_session_records", meter(101)) != nil })
        stack.setStatus(101, "5")
        #expect(stack.waitForMetrics { $0.value("zuora_meter_session_operator_records", meter(101)) != nil })
        for extra in [[], ["--compressed"]] {
            let body = http("GET", "\(stack.exporterURL)/metrics", extra: extra).body
            let result = try runTool("/usr/bin/promtool", ["check", "metrics"], stdin: body)
            #expect(result.status == 0 && result.output.isEmpty, "promtool check metrics: \(result.output)")
        }
    }

    @Test func badConfigurationsStopStartupAndNameTheKey() throws {
        let cases: [(String, String)] = [
            ("zuora:\n  base_url: http://x\nmeters:\n  - id: 1\n    colour: red\n", "meters[0].colour"),
            ("zuora:\n  base_url: http://x\nmeters:\n  - id: one\n", "meters[0].id"),
            ("zuora:\n  base_url: http://x\nmeters:\n  - id: 1\n  - id: 1\n", "duplicate"),
            ("zuora:\n  base_url: http://x\npoll_interval: soon\nmeters: []\n", "poll_interval"),
            ("zuora:\n  base_url: http://x\n  track_id: 'a:b'\nmeters: []\n", "zuora.track_id"),
            ("meters: []\n", "zuora"),
        ]
        for (yaml, expected) in cases {
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("zme-bad-\(UUID().uuidString).yml")
            try yaml.write(to: url, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: url) }
            let result = try runTool(
                binDirectory.appendingPathComponent("zuora-mediation-exporter").path,
                ["--config.file", url.path, "--config.check"],
                environment: ["ZUORA_CLIENT_ID": "a", "ZUORA_CLIENT_SECRET": "b"]
            )
            #expect(result.status == 1, "exit code 1 for \(expected)")
            #expect(result.output.contains(expected), "message names \(expected): \(result.output)")
        }
        let good = FileManager.default.temporaryDirectory.appendingPathComponent("zme-good-\(UUID().uuidString).yml")
        try "zuora:\n  base_url: https://rest.zuora.com\nmeters:\n  - id: 1\n".write(
            to: good,
            atomically: true,
            encoding: .utf8
        )
        defer { try? FileManager.default.removeItem(at: good) }
        let exporter = binDirectory.appendingPathComponent("zuora-mediation-exporter").path
        let ok = try runTool(
            exporter,
            ["--config.file", good.path, "--config.check"],
            environment: ["ZUORA_CLIENT_ID": "a", "ZUORA_CLIENT_SECRET": "b"]
        )
        #expect(ok.status == 0, "\(ok.output)")
        let noSecret = try runTool(
            exporter,
            ["--config.file", good.path, "--config.check"],
            environment: ["ZUORA_CLIENT_ID": "a", "ZUORA_CLIENT_SECRET": ""]
        )
        #expect(noSecret.status == 1 && noSecret.output.contains("ZUORA_CLIENT_SECRET"), "\(noSecret.output)")
    }
}

struct ToolResult {
    var status: Int32
    var output: String
}

/// Runs a program to completion, feeding `stdin`, collecting standard output and error together.
func runTool(
    _ path: String,
    _ arguments: [String],
    stdin: String? = nil,
    environment: [String: String] = [:]
) throws -> ToolResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { $1 }
    process.environment = env
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ToolResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
}

/// Bodies over 64 KiB are streamed from their cached parts; they must arrive whole and well-formed.
@Suite(.serialized)
struct LargeScrapeTests {
    @Test func aLargeFleetScrapesWholeAndWellFormed() throws {
        let ids = (1...300).map(String.init)
        let stack = try Stack(
            simulatedMeters: ids.joined(separator: ","),
            meterConfig: ids.map { "  - id: \($0)" }.joined(separator: "\n") + "\n",
            pollInterval: "2s"
        )
        #expect(eventually(timeout: 20) { http("GET", "\(stack.exporterURL)/-/ready").status == 200 })
        for extra in [[], ["--compressed"]] {
            let scrape = http("GET", "\(stack.exporterURL)/metrics", extra: extra)
            #expect(scrape.status == 200 && scrape.body.utf8.count > 300_000, "\(scrape.body.utf8.count) bytes")
            let samples = parseExposition(scrape.body)
            #expect(Set(samples.all("zuora_meter_info").compactMap { $0.labels["meter_id"] }) == Set(ids))
            #expect(samples.all("zuora_meter_run_state").count == 300 * 14)
            #expect(samples.contains { $0.name == "process_open_fds" }, "the per-scrape part follows the cached part")
            let check = try runTool("/usr/bin/promtool", ["check", "metrics"], stdin: scrape.body)
            #expect(check.status == 0 && check.output.isEmpty, "\(check.output)")
        }
    }
}
