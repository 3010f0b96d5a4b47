import ExpositionParser
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Faults from Zuora injected through the simulator, connection reuse, and configuration reload.
@Suite(.serialized)
struct HardeningTests {
    @Test func aHungMeterStallsNeitherTheOthersNorTheServer() throws {
        // The stack's request timeout is 2 s; 101 answers after 5 s.
        let stack = try Stack(pollInterval: "200ms", startExporter: false)
        stack.control("POST", "meters/101/0.0.1/fault", #"{"status":200,"delay":5}"#)
        try stack.startExporter()
        // Counted from 102's first poll: a sanitized build starts slowly.
        #expect(eventually { stack.polls(of: 102) > 0 })
        let before = stack.polls(of: 102)
        Thread.sleep(forTimeInterval: 3)
        let pollsWhile101Hangs = stack.polls(of: 102) - before
        #expect(pollsWhile101Hangs >= 5, "102 keeps being polled while 101 hangs (\(pollsWhile101Hangs) polls in 3 s)")
        let timedOut = meter(101).merging(["reason": "timeout"]) { $1 }
        #expect(stack.waitForMetrics { ($0.value("zuora_meter_poll_errors_total", timedOut) ?? 0) >= 1 })
        // While 101's next request hangs (it is retried and hangs again).
        let took = timedScrape(stack)
        #expect(took < 1, "/metrics answers at once (after \(took) s)")
        #expect(stack.metrics().value("zuora_meter_poll_success", meter(102)) == 1)
    }

    @Test func undecodableAndOversizedAnswersAreDecodeErrors() throws {
        let stack = try Stack(pollInterval: "200ms", startExporter: false)
        stack.control(
            "POST",
            "meters/101/0.0.1/fault",
            #"{"status":200,"body":"{\"success\":true,\"data\":{\"runSta"}"#
        )
        stack.control("POST", "meters/102/0.0.1/fault", #"{"status":200,"bodyBytes":20000000}"#)
        try stack.startExporter()
        let decode = meter(101).merging(["reason": "decode"]) { $1 }
        #expect(stack.waitForMetrics { ($0.value("zuora_meter_poll_errors_total", decode) ?? 0) >= 1 })
        #expect(
            stack.waitForMetrics {
                ($0.value("zuora_meter_poll_errors_total", meter(102).merging(["reason": "decode"]) { $1 }) ?? 0) >= 1
            }
        )
        let page = http("GET", "\(stack.exporterURL)/").body
        #expect(page.contains("response body over 1048576 bytes"), "the oversized answer is refused for its size")
        #expect(page.contains("body is not a JSON object"), "the truncated answer is refused as undecodable")
        stack.control("DELETE", "faults")
        #expect(
            stack.waitForMetrics(timeout: 120) { $0.value("zuora_meter_poll_success", meter(102)) == 1 },
            "102 recovers once the fault is gone (after its backoff)"
        )
        let rss = try #require(stack.metrics().value("process_resident_memory_bytes"))
        #expect(rss < 100 * 1024 * 1024, "a 20 MB answer is not held in memory (RSS \(rss))")
    }

    @Test func aDeadTokenEndpointIsAServerErrorAndPollingResumesByItself() throws {
        let stack = try Stack(pollInterval: "100ms")
        #expect(stack.waitForMetrics { $0.value("zuora_meter_poll_success", meter(101)) == 1 })
        stack.control("POST", "fault", #"{"target":"token","status":500}"#)
        stack.control("POST", "tokens/revoke")
        // A token endpoint answering 500 is Zuora failing, not wrong credentials: `server_error`, not `auth`.
        #expect(
            stack.waitForMetrics {
                $0.all("zuora_meter_poll_errors_total").filter { $0.labels["reason"] == "server_error" }
                    .reduce(0) { $0 + $1.value } >= 1
            }
        )
        #expect(stack.metrics().all("zuora_meter_poll_errors_total").allSatisfy { $0.labels["reason"] != "auth" })
        // How seldom the dead endpoint is tried (one probe, not every meter's poll) is `TenantPauseTests`.
        #expect((stack.metrics().value("zuora_api_requests_total", ["endpoint": "token", "code": "500"]) ?? 0) >= 1)
        #expect(stack.exporter?.log.contains("token") == true)
        stack.control("DELETE", "faults")
        #expect(
            stack.waitForMetrics(timeout: 120) { $0.value("zuora_meter_poll_success", meter(101)) == 1 },
            "recovers by itself"
        )
    }

    @Test func connectionsAreReused() throws {
        let ids = (101...120).map(String.init)
        let stack = try Stack(
            simulatedMeters: ids.joined(separator: ","),
            meterConfig: ids.map { "  - id: \($0)" }.joined(separator: "\n") + "\n",
            pollInterval: "100ms",
            startExporter: false
        )
        let beforeStart = stack.simulatorStats()["connections"] ?? 0
        try stack.startExporter()
        #expect(eventually { http("GET", "\(stack.exporterURL)/-/ready").status == 200 })
        let afterFirstCycle = stack.simulatorStats()["connections"] ?? 0
        // Less one for each stats request (curl opens a connection per call).
        #expect(afterFirstCycle - beforeStart - 1 <= 4, "first cycle: at most max_concurrency (4) connections")
        let polls = stack.simulatorStats()["runStatusRequests"] ?? 0
        // 100 more polls (half a second at full speed; a sanitized build takes longer), each stats read
        // counted, as it opens a connection of its own.
        var statsReads = 1
        var later: [String: Int] = [:]
        let polled = eventually(timeout: 30) {
            Thread.sleep(forTimeInterval: 1)
            later = stack.simulatorStats()
            statsReads += 1
            return (later["runStatusRequests"] ?? 0) - polls >= 100
        }
        #expect(polled, "20 meters polled every 100 ms: \(later)")
        #expect(
            (later["connections"] ?? 0) - afterFirstCycle - statsReads <= 0,
            "no new connection after the first cycle"
        )
    }

    @Test func reloadAppliesAValidConfigAndRefusesABadOne() throws {
        let secretFile = try temporarySecretFile(holding: "wrong-secret")
        defer { try? FileManager.default.removeItem(at: secretFile) }
        let zuora = "  client_secret_file: \(secretFile.path)\n"
        let stack = try Stack(simulatedMeters: "101,102,103", extraZuora: zuora, startExporter: false)
        try stack.startExporter(arguments: ["--web.enable-lifecycle"])
        #expect(
            stack.waitForMetrics {
                ($0.value("zuora_meter_poll_errors_total", meter(101).merging(["reason": "auth"]) { $1 }) ?? 0) >= 1
            }
        )
        let firstReload = try #require(
            stack.metrics().value("zuora_exporter_config_last_reload_success_timestamp_seconds")
        )

        // SIGHUP: new credentials, meter 103 added, 102 removed.
        try Stack.clientSecret.write(to: secretFile, atomically: true, encoding: .utf8)
        try stack.rewriteConfig(meters: "  - id: 101\n  - id: 103\n", extraZuora: zuora)
        kill(stack.exporter!.process.processIdentifier, SIGHUP)
        #expect(
            stack.waitForMetrics { $0.value("zuora_meter_poll_success", meter(103)) == 1 },
            "103 is polled after reload"
        )
        #expect(stack.waitForMetrics { $0.value("zuora_meter_poll_success", meter(101)) == 1 }, "the new secret works")
        let reloaded = stack.metrics()
        #expect(reloaded.all("zuora_meter_info", meter(102)).isEmpty, "removed meters disappear")
        #expect(reloaded.value("zuora_exporter_config_last_reload_successful") == 1)
        #expect((reloaded.value("zuora_exporter_config_last_reload_success_timestamp_seconds") ?? 0) > firstReload)

        // POST /-/reload with a broken file: refused, the running configuration stays.
        try "zuora:\n  base_url: http://x\n  colour: red\nmeters: []\n".write(
            to: stack.configURL,
            atomically: true,
            encoding: .utf8
        )
        let refused = http("POST", "\(stack.exporterURL)/-/reload")
        #expect(refused.status == 500 && refused.body.contains("zuora.colour"), "\(refused.body)")
        let after = stack.metrics()
        #expect(after.value("zuora_exporter_config_last_reload_successful") == 0)
        #expect(after.value("zuora_meter_poll_success", meter(103)) == 1, "the old configuration keeps running")
        #expect(stack.exporter?.log.contains("configuration reload failed") == true)
        try stack.rewriteConfig(meters: "  - id: 101\n", extraZuora: zuora)
        #expect(http("POST", "\(stack.exporterURL)/-/reload").status == 200)
        #expect(stack.waitForMetrics { $0.all("zuora_meter_info", meter(103)).isEmpty })
    }

    @Test func zuorasCertificateIsVerified() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zme-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cert, key) = try makeCertificate(in: directory)
        let port = freePort()
        let simulator = try ManagedProcess(
            "zuora-mediation-simulator",
            [
                "--web.listen-address", "127.0.0.1:\(port)", "--meters", "101", "--client-id", "a", "--client-secret",
                "b",
                "--tls.cert-file", cert, "--tls.key-file", key,
            ]
        )
        defer { simulator.stop() }
        #expect(
            eventually {
                http("GET", "https://127.0.0.1:\(port)/_control/stats", extra: ["--cacert", cert]).status == 200
            }
        )
        for (extra, expectSuccess) in [
            ("", false), ("  ca_file: \(cert)\n", true), ("  insecure_skip_verify: true\n", true),
        ] {
            let config = directory.appendingPathComponent("config.yml")
            try "zuora:\n  base_url: https://127.0.0.1:\(port)\n\(extra)poll_interval: 200ms\nmeters:\n  - id: 101\n"
                .write(to: config, atomically: true, encoding: .utf8)
            let exporterPort = freePort()
            let exporter = try ManagedProcess(
                "zuora-mediation-exporter",
                ["--config.file", config.path, "--web.listen-address", "127.0.0.1:\(exporterPort)"],
                environment: ["ZUORA_CLIENT_ID": "a", "ZUORA_CLIENT_SECRET": "b"]
            )
            defer { exporter.stop() }
            // A cold start (slow in a sanitized build), the token, a poll and a scrape.
            let reached = eventually(timeout: 20) {
                let samples = parseExposition(http("GET", "http://127.0.0.1:\(exporterPort)/metrics").body)
                return samples.value(
                    expectSuccess ? "zuora_meter_poll_success" : "zuora_meter_poll_errors_total",
                    meter(101)
                ) != nil
                    && (samples.value("zuora_meter_poll_success", meter(101)) == 1) == expectSuccess
                    && (expectSuccess
                        || samples.value("zuora_api_requests_total", ["endpoint": "token", "code": "0"]) != nil)
            }
            #expect(reached, "config \(extra.isEmpty ? "default" : extra): \(exporter.log.suffix(600))")
            if extra.contains("insecure") { #expect(exporter.log.contains("verification towards Zuora is OFF")) }
        }
    }
}

/// Reloads must not reset what the request budget has counted: a reload after every callout once drove
/// 196 runStatus requests in 20 s through a budget of 5 a minute.
@Suite(.serialized)
struct BudgetAcrossReloadsTests {
    @Test func callsAndReloadsStayWithinTheBudget() throws {
        let stack = try Stack(
            extraZuora: "  request_budget:\n    per_minute: 5\n",
            extraConfig: "webhook:\n  insecure: true\n  max_dynamic_meters: 0\n"
        )
        let started = Date()
        #expect(stack.waitForMetrics { $0.value("zuora_meter_poll_success", meter(101)) != nil })
        for round in 0..<8 {
            let body =
                #"{"meterId":101,"sessionId":"s-\#(round)","runType":"NORMAL","status":"RUNNING","#
                + #""previousStatus":"COMPLETED"}"#
            _ = http(
                "POST",
                "\(stack.exporterURL)/webhooks/meter-session-status",
                body: body,
                headers: ["Content-Type: application/json", "Zuora-Notification-Id: n-\(round)"]
            )
            kill(stack.exporter!.process.processIdentifier, SIGHUP)
            Thread.sleep(forTimeInterval: 1)
        }
        let stats = stack.simulatorStats()
        let requests = (stats["runStatusRequests"] ?? 0) + (stats["tokenRequests"] ?? 0)
        #expect(Date().timeIntervalSince(started) < 55, "the whole test stays inside one budget minute")
        #expect(requests <= 5, "at most 5 requests to Zuora in the first minute, reloads or not: \(stats)")
        #expect(stack.exporter?.log.contains("configuration reloaded") == true)
    }
}
