import ExpositionParser
import Foundation
import Testing

/// The simulator and the exporter as processes on loopback, with helpers to drive and read them.
final class Stack: @unchecked Sendable {
    static let clientId = "it-client"
    static let clientSecret = "it-secret-\(UUID().uuidString.prefix(8))"

    let simulatorPort = freePort()
    let exporterPort: Int
    let simulator: ManagedProcess
    var exporter: ManagedProcess?
    let configURL: URL

    var simulatorURL: String { "http://127.0.0.1:\(simulatorPort)" }
    var exporterURL: String { "http://127.0.0.1:\(exporterPort)" }

    /// Starts the simulator (statuses held still unless a test moves them) and the exporter.
    init(
        simulatedMeters: String = "101,102",
        meterConfig: String = "  - id: 101\n    name: Usage ingestion\n  - id: 102\n",
        pollInterval: String = "300ms",
        idlePollInterval: String? = nil,
        tokenLifetime: String = "1h",
        zuoraTimeout: String = "2s",
        clientSecret: String = Stack.clientSecret,
        extraZuora: String = "",
        extraConfig: String = "",
        startExporter: Bool = true,
        exporterPort: Int? = nil,
        simulatorArguments: [String] = []
    ) throws {
        // Given when the simulator must know it before the exporter starts (its callouts go there).
        self.exporterPort = exporterPort ?? freePort()
        simulator = try ManagedProcess(
            "zuora-mediation-simulator",
            [
                "--web.listen-address", "127.0.0.1:\(simulatorPort)", "--meters", simulatedMeters,
                "--client-id", Stack.clientId, "--client-secret", Stack.clientSecret, "--token-lifetime", tokenLifetime,
            ] + simulatorArguments
        )
        configURL = FileManager.default.temporaryDirectory.appendingPathComponent("zme-\(UUID().uuidString).yml")
        let config = """
            zuora:
              base_url: http://127.0.0.1:\(simulatorPort)
              timeout: \(zuoraTimeout)
            \(extraZuora)
            poll_interval: \(pollInterval)
            idle_poll_interval: \(idlePollInterval ?? pollInterval)
            meters:
            \(meterConfig)
            \(extraConfig)
            """
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        #expect(eventually { http("GET", "\(simulatorURL)/_control/stats").status == 200 }, "simulator did not start")
        if startExporter { try self.startExporter(clientSecret: clientSecret) }
    }

    /// Writes a new configuration file (the exporter reads it on reload).
    func rewriteConfig(meters: String, extraZuora: String = "") throws {
        let config = """
            zuora:
              base_url: http://127.0.0.1:\(simulatorPort)
              timeout: 2s
            \(extraZuora)
            poll_interval: 300ms
            idle_poll_interval: 300ms
            meters:
            \(meters)
            """
        try config.write(to: configURL, atomically: true, encoding: .utf8)
    }

    func startExporter(clientSecret: String = Stack.clientSecret, arguments: [String] = []) throws {
        try launchExporter(clientSecret: clientSecret, arguments: arguments)
        #expect(
            eventually { http("GET", "\(exporterURL)/-/healthy").status == 200 },
            "exporter did not start: \(exporter?.log ?? "")"
        )
    }

    /// Starts the exporter without waiting for it (when plain HTTP cannot tell that it is up, e.g. with TLS).
    func launchExporter(clientSecret: String = Stack.clientSecret, arguments: [String] = []) throws {
        exporter = try ManagedProcess(
            "zuora-mediation-exporter",
            ["--config.file", configURL.path, "--web.listen-address", "127.0.0.1:\(exporterPort)"] + arguments,
            environment: ["ZUORA_CLIENT_ID": Stack.clientId, "ZUORA_CLIENT_SECRET": clientSecret]
        )
    }

    /// The samples of one scrape; a served body with lines that are not in the format fails the test.
    func metrics() -> [Sample] {
        let scrape = http("GET", "\(exporterURL)/metrics")
        let parsed = ParsedExposition(scrape.body)
        if scrape.status == 200 { #expect(parsed.problems.isEmpty, "not in the format: \(parsed.problems.prefix(5))") }
        return parsed.samples
    }

    /// Waits until the exporter's metrics satisfy `condition`.
    func waitForMetrics(timeout: Double = 15, _ condition: ([Sample]) -> Bool) -> Bool {
        eventually(timeout: timeout) { condition(metrics()) }
    }

    func setStatus(_ meter: Int, _ status: String, version: String = "0.0.1") {
        let encoded = version.addingPercentEncoding(
            withAllowedCharacters: .alphanumerics.union(.init(charactersIn: "._-~"))
        )!
        let result = http(
            "POST",
            "\(simulatorURL)/_control/meters/\(meter)/\(encoded)/status",
            body: #"{"status":\#(status)}"#
        )
        #expect(result.status == 200, "control API refused status \(status): \(result.body)")
    }

    func control(_ method: String, _ path: String, _ body: String? = nil) {
        let result = http(method, "\(simulatorURL)/_control/\(path)", body: body)
        #expect(result.status == 200, "control API refused \(path): \(result.body)")
    }

    func simulatorStats() -> [String: Int] {
        let body = http("GET", "\(simulatorURL)/_control/stats").body
        let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
        return object.compactMapValues { $0 as? Int }
    }

    /// runStatus requests the simulator answered for one meter-version.
    func polls(of meterId: Int, version: String = "0.0.1") -> Int {
        let body = http("GET", "\(simulatorURL)/_control/stats").body
        let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
        return ((object["perMeter"] as? [String: Int]) ?? [:])["\(meterId)/\(version)"] ?? 0
    }

    deinit {
        exporter?.stop()
        simulator.stop()
        try? FileManager.default.removeItem(at: configURL)
    }
}

/// `meter_id` and `version` labels of one meter-version.
func meter(_ id: Int, _ version: String = "0.0.1") -> [String: String] { ["meter_id": String(id), "version": version] }

/// Seconds one scrape of /metrics took, as curl measures it (timed around `http`, starting the process
/// and waiting for it added tens of milliseconds, unevenly), expecting a 200.
func timedScrape(_ stack: Stack) -> Double {
    let result = try? runTool(
        "/usr/bin/curl",
        [
            "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "--max-time", "5",
            "\(stack.exporterURL)/metrics",
        ]
    )
    let fields = (result?.output ?? "").split(separator: " ")
    #expect(fields.first == "200", "/metrics answers 200: \(result?.output ?? "curl did not run")")
    return fields.count == 2 ? Double(fields[1]) ?? 5 : 5
}
