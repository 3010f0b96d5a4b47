import ExpositionParser
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Zuora's faults from issue #6, injected through the simulator and seen through libcurl: 503 with
/// Retry-After (the one end-to-end check of a tenant pause), connections dropped or cut short, Zuora
/// unreachable; and a world-readable secret file. Classification of each status (502, 504, …) is
/// `FaultScopeTests`; back-off and its reset `PollerIntervalTests`.
@Suite(.serialized)
struct FaultTests {
    @Test func retryAfterOn503PausesTheWholeTenantForThatLong() throws {
        let stack = try runningMeters([101, 102], pollInterval: "100ms")
        let retryAfter = 4.0
        let injected = Date()
        stack.control("POST", "meters/101/0.0.1/fault", #"{"status":503,"count":1,"retryAfter":4}"#)
        let serverError = meter(101).merging(["reason": "server_error"]) { $1 }
        #expect(stack.waitForMetrics(timeout: 3) { ($0.value("zuora_meter_poll_errors_total", serverError) ?? 0) >= 1 })
        let seen = Date()
        // A poll of 102 that passed the gate before the 503 came back may still land.
        Thread.sleep(forTimeInterval: 1)
        let paused = stack.requestCounts()
        let resumed = eventually(timeout: retryAfter + 4) { stack.requestCounts().total != paused.total }
        let resumedAt = Date()
        #expect(resumed, "polling resumes after Retry-After")
        // The 503 was answered after `injected` and before `seen`: the pause ends 4 s after it.
        let quiet = resumedAt.timeIntervalSince(injected)
        #expect(quiet >= retryAfter - 0.2, "no meter, 102 included, is polled for Retry-After (quiet \(quiet) s)")
        #expect(resumedAt.timeIntervalSince(seen) <= retryAfter + 1.5, "and not much longer (quiet \(quiet) s)")
        #expect(
            eventually(timeout: 5) { (stack.requestCounts().perMeter[102] ?? 0) >= (paused.perMeter[102] ?? 0) + 5 },
            "102 is polled at its rate again"
        )
        let samples = stack.metrics()
        #expect(samples.value("zuora_meter_poll_success", meter(101)) == 1, "101's next poll succeeded")
        #expect((samples.value("zuora_api_requests_total", ["endpoint": "run_status", "code": "503"]) ?? 0) == 1)
    }

    /// Meters `ids`, RUNNING, polled every `pollInterval`, each polled successfully once.
    func runningMeters(_ ids: [Int], pollInterval: String = "200ms") throws -> Stack {
        let stack = try Stack(
            simulatedMeters: ids.map(String.init).joined(separator: ","),
            meterConfig: ids.map { "  - id: \($0)\n" }.joined(),
            pollInterval: pollInterval,
            startExporter: false
        )
        for id in ids { stack.setStatus(id, #""RUNNING""#) }
        try stack.startExporter()
        #expect(stack.waitForMetrics { polledWell($0, ids) })
        return stack
    }

    @Test func droppedAndTruncatedAnswersAreNetworkErrorsOfTheirMeter() throws {
        let stack = try runningMeters([101, 102, 103])
        // 101: the connection closes without an answer; 102: a 200 whose body stops after 10 bytes.
        stack.control("POST", "meters/101/0.0.1/fault", #"{"reset":true}"#)
        stack.control("POST", "meters/102/0.0.1/fault", #"{"status":200,"truncateAfter":10}"#)
        #expect(stack.waitForMetrics { samples in [101, 102].allSatisfy { failedAgain(samples, $0, times: 2) } })
        let samples = stack.metrics()
        expectFailing(samples, [101: "network", 102: "network"])
        #expect(samples.all("zuora_meter_poll_errors_total", meter(103)).isEmpty)
        #expect(samples.value("zuora_meter_poll_success", meter(103)) == 1)
        #expect((samples.value("zuora_api_requests_total", ["endpoint": "run_status", "code": "0"]) ?? 0) >= 4)
        let page = http("GET", "\(stack.exporterURL)/").body
        #expect(page.contains("Empty reply from server"), "the landing page says what went wrong with 101")
        #expect(page.contains("transfer closed with 76 bytes remaining"), "and with 102 (86-byte body)")
        // Back-off and its reset are `PollerIntervalTests`; here: the next answer gets through libcurl again.
        stack.setStatus(101, "11")
        stack.setStatus(102, "10")
        stack.control("DELETE", "faults")
        #expect(
            stack.waitForMetrics(timeout: 30) { samples in
                [(101, 11.0), (102, 10.0)].allSatisfy { id, code in
                    samples.value("zuora_meter_poll_success", meter(id)) == 1
                        && samples.value("zuora_meter_run_status", meter(id)) == code
                }
            },
            "the meters recover once the faults are gone"
        )
    }

    @Test func unreachableZuoraKeepsMetricsFastAndPollingResumesByItself() throws {
        let stack = try runningMeters([101, 102])
        let healthy = (0..<10).map { _ in timedScrape(stack) }
        stack.simulator.stop(signal: SIGKILL)
        var down: [Double] = []
        var unhealthy: [Int] = []
        let start = Date()
        while Date().timeIntervalSince(start) < 5 || down.count < 10 {
            down.append(timedScrape(stack))
            let probe = http("GET", "\(stack.exporterURL)/-/healthy").status
            if probe != 200 { unhealthy.append(probe) }
            usleep(100_000)
        }
        let (healthyMedian, downMedian) = (median(healthy), median(down))
        #expect(down.count >= 10 && down.allSatisfy { $0 < 1 }, "every scrape under 1 s: slowest \(down.max() ?? 0) s")
        #expect(
            downMedian <= 3 * healthyMedian + 0.2,
            "scrapes as quick as when Zuora answered: median \(downMedian) s against \(healthyMedian) s"
        )
        #expect(unhealthy.isEmpty, "/-/healthy stays 200 (got \(unhealthy))")
        let samples = stack.metrics()
        expectFailing(samples, [101: "network", 102: "network"])

        // Zuora comes back on the same address, knowing neither the old token nor the old statuses.
        let restarted = try ManagedProcess(
            "zuora-mediation-simulator",
            [
                "--web.listen-address", "127.0.0.1:\(stack.simulatorPort)", "--meters", "101,102",
                "--client-id", Stack.clientId, "--client-secret", Stack.clientSecret,
            ]
        )
        defer { restarted.stop() }
        #expect(eventually { http("GET", "\(stack.simulatorURL)/_control/stats").status == 200 })
        stack.setStatus(101, #""FAILED""#)
        // The next polls come when the backoff of 5 s of failures is over: usually a few seconds.
        #expect(
            stack.waitForMetrics(timeout: 120) { samples in
                polledWell(samples, [101, 102]) && samples.value("zuora_meter_run_status", meter(101)) == 8
                    && samples.value("zuora_meter_run_status", meter(102)) == 1
            },
            "polling resumes by itself: \(restarted.log.suffix(300))"
        )
    }

    @Test func aWorldReadableSecretFileGetsAWarningThatHidesTheSecret() throws {
        let secretFile = try temporarySecretFile(holding: "\(Stack.clientSecret)\n")
        defer { try? FileManager.default.removeItem(at: secretFile) }
        let stack = try Stack(extraZuora: "  client_secret_file: \(secretFile.path)\n", startExporter: false)
        for (mode, warns) in [(0o644, true), (0o600, false)] {
            try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: secretFile.path)
            // The environment's secret is wrong: polls succeed only with the file's.
            try stack.startExporter(clientSecret: "env-secret-not-used")
            let exporter = try #require(stack.exporter)
            #expect(
                stack.waitForMetrics { $0.value("zuora_meter_poll_success", meter(101)) == 1 },
                "the secret comes from the file: \(exporter.log.suffix(600))"
            )
            let log = exporter.log
            let warnings = log.split(separator: "\n").filter { $0.contains("secret file is readable by every user") }
            if warns {
                #expect(
                    warnings.contains { $0.contains("level=warn") && $0.contains(secretFile.path) },
                    "mode 0644 is warned about, naming the file: \(log)"
                )
            } else {
                #expect(warnings.isEmpty, "mode 0600 is not warned about: \(warnings)")
            }
            let everything =
                log + http("GET", "\(stack.exporterURL)/metrics").body
                + http("GET", "\(stack.exporterURL)/").body
            #expect(!everything.contains(Stack.clientSecret), "the secret appears in no log line, metric or page")
            #expect(exporter.stop() == 0)
        }
    }
}

extension Stack {
    /// runStatus requests the simulator answered, in all and per meter id (version 0.0.1), from one
    /// stats request.
    fileprivate func requestCounts() -> (total: Int, perMeter: [Int: Int]) {
        let body = http("GET", "\(simulatorURL)/_control/stats").body
        let object = (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:]
        var perMeter: [Int: Int] = [:]
        for (key, count) in (object["perMeter"] as? [String: Int]) ?? [:] where key.hasSuffix("/0.0.1") {
            if let id = Int(key.dropLast(6)) { perMeter[id] = count }
        }
        return ((object["runStatusRequests"] as? Int) ?? 0, perMeter)
    }
}

/// Whether the last poll of each of these meters succeeded.
/// Each meter's polls fail for that one reason, and it keeps its last status (RUNNING, 5).
private func expectFailing(
    _ samples: [Sample],
    _ reasons: [Int: String],
    sourceLocation: SourceLocation = #_sourceLocation
) {
    for (id, reason) in reasons {
        let errors = samples.all("zuora_meter_poll_errors_total", meter(id))
        #expect(errors.map { $0.labels["reason"] } == [reason], "\(id): \(errors)", sourceLocation: sourceLocation)
        #expect(samples.value("zuora_meter_poll_success", meter(id)) == 0, sourceLocation: sourceLocation)
        #expect(
            samples.value("zuora_meter_run_status", meter(id)) == 5,
            "\(id) keeps its last status",
            sourceLocation: sourceLocation
        )
    }
}

private func polledWell(_ samples: [Sample], _ ids: [Int]) -> Bool {
    ids.allSatisfy { samples.value("zuora_meter_poll_success", meter($0)) == 1 }
}

/// Whether `id`'s polls failed at least `times` times.
private func failedAgain(_ samples: [Sample], _ id: Int, times: Double) -> Bool {
    samples.all("zuora_meter_poll_errors_total", meter(id)).reduce(0) { $0 + $1.value } >= times
}

private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
}
