import ExpositionParser
import Foundation
import MediationCore
import Testing

/// Zuora's "Meter Session Status Change" callouts posted to a running exporter, beside polling.
@Suite(.serialized)
struct WebhookTests {
    static let password = "hook-pass-\(UUID().uuidString.prefix(6))"
    static let hmacKey = "hmac-key-\(UUID().uuidString.prefix(6))"

    /// A stack whose exporter receives callouts with Basic auth and an HMAC signature (hex).
    static func stack(
        basic: Bool = true,
        hmac: Bool = false,
        maxDynamic: Int = 2,
        pollInterval: String = "300ms",
        startExporter: Bool = true
    ) throws -> Stack {
        try Stack(
            pollInterval: pollInterval,
            extraConfig: try webhookSection(basic: basic, hmac: hmac, maxDynamic: maxDynamic),
            startExporter: startExporter
        )
    }

    /// The `webhook:` section, with the password and HMAC key written to temporary files.
    static func webhookSection(basic: Bool, hmac: Bool, maxDynamic: Int = 100) throws -> String {
        let directory = FileManager.default.temporaryDirectory
        let passwordFile = directory.appendingPathComponent("zme-pw-\(UUID().uuidString)")
        let keyFile = directory.appendingPathComponent("zme-key-\(UUID().uuidString)")
        try password.write(to: passwordFile, atomically: true, encoding: .utf8)
        try hmacKey.write(to: keyFile, atomically: true, encoding: .utf8)
        var webhook = "webhook:\n  max_dynamic_meters: \(maxDynamic)\n"
        if basic { webhook += "  basic_auth:\n    username: zuora\n    password_file: \(passwordFile.path)\n" }
        if hmac { webhook += "  hmac:\n    secret_file: \(keyFile.path)\n    header: X-Signature\n" }
        if !basic && !hmac { webhook += "  insecure: true\n" }
        return webhook
    }

    static func callout(
        _ meterId: Any = 101,
        status: String,
        previous: String,
        session: String = "s-1",
        start: String = "",
        end: String = "",
        name: String = "Usage ingestion"
    ) -> String {
        let id = meterId is String ? #""\#(meterId)""# : "\(meterId)"
        return #"{"meterId":\#(id),"meterName":"\#(name)","sessionId":"\#(session)","runType":"NORMAL","#
            + #""status":"\#(status)","previousStatus":"\#(previous)","startTime":"\#(start)","endTime":"\#(end)"}"#
    }

    static func post(
        _ stack: Stack,
        _ body: String,
        id: String? = nil,
        auth: Bool = true,
        signed: Bool = false
    ) -> HTTPResult {
        var headers = ["Content-Type: application/json"]
        if let id { headers.append("Zuora-Notification-Id: \(id)") }
        if signed {
            let signature = Signatures.hex(Signatures.hmacSHA256(key: Array(hmacKey.utf8), message: Array(body.utf8)))
            headers.append("X-Signature: \(signature)")
        }
        let extra = auth ? ["-u", "zuora:\(password)"] : []
        return http(
            "POST",
            "\(stack.exporterURL)/webhooks/meter-session-status",
            body: body,
            headers: headers,
            extra: extra
        )
    }

    static func webhookCount(_ stack: Stack, _ result: String) -> Double {
        stack.metrics().value("zuora_webhook_requests_total", ["event": "status_change", "result": result]) ?? -1
    }

    static func transitions(_ samples: [Sample], _ from: String, _ to: String, meterId: Int = 101) -> Double {
        samples.value(
            "zuora_meter_run_status_transitions_total",
            meter(meterId).merging(["from": from, "to": to]) { $1 }
        ) ?? 0
    }

    @Test func basicAuthChallengesFirstThenAccepts() throws {
        let stack = try Self.stack()
        #expect(Self.webhookCount(stack, "accepted") == 0, "series exist from the start")
        let anonymous = Self.post(stack, Self.callout(status: "RUNNING", previous: "INITIALIZING"), auth: false)
        #expect(anonymous.status == 401)
        #expect(anonymous.headers["www-authenticate"]?.hasPrefix("Basic realm=") == true)
        let wrong = http(
            "POST",
            "\(stack.exporterURL)/webhooks/meter-session-status",
            body: Self.callout(status: "RUNNING", previous: "INITIALIZING"),
            extra: ["-u", "zuora:nope"]
        )
        #expect(wrong.status == 401)
        #expect(Self.webhookCount(stack, "unauthorized") == 2)
        let accepted = Self.post(stack, Self.callout("101", status: "FAILED", previous: "NEVER_RUN", session: "s-9"))
        #expect(accepted.status == 200 && accepted.body.contains("accepted"))
        let samples = stack.metrics()
        #expect(samples.value("zuora_meter_run_failures_total", meter(101)) == 1)
        #expect(Self.transitions(samples, "NEVER_RUN", "FAILED") == 1)
        #expect(!(stack.exporter?.log.contains(Self.password) ?? true), "the password never reaches the log")
    }

    @Test func hmacSignaturesAreChecked() throws {
        let stack = try Self.stack(basic: false, hmac: true)
        let body = Self.callout(status: "RUNNING", previous: "INITIALIZING")
        #expect(Self.post(stack, body, auth: false, signed: false).status == 401)
        let tampered = http(
            "POST",
            "\(stack.exporterURL)/webhooks/meter-session-status",
            body: body,
            headers: ["X-Signature: " + String(repeating: "ab", count: 32)]
        )
        #expect(tampered.status == 401)
        #expect(Self.post(stack, body, auth: false, signed: true).status == 200)
        #expect(Self.webhookCount(stack, "unauthorized") == 2 && Self.webhookCount(stack, "accepted") == 1)
    }

    @Test func retriesAndReorderedCalloutsAreCountedOnce() throws {
        // Polls every 3 s: the callouts below all arrive between two polls.
        let stack = try Self.stack(pollInterval: "3s", startExporter: false)
        stack.setStatus(101, #""RUNNING""#)
        try stack.startExporter()
        #expect(stack.waitForMetrics { $0.value("zuora_meter_run_status", meter(101)) == 5 })
        // B arrives before A (retries reorder): the missed step RUNNING → USAGE_PUSHING is inferred from B.
        stack.setStatus(101, #""COMPLETED""#)
        let b = Self.callout(
            status: "COMPLETED",
            previous: "USAGE_PUSHING",
            start: "2026-11-23T10:00:00Z",
            end: "2026-11-23T10:20:00.5Z"
        )
        #expect(Self.post(stack, b, id: "n-b").status == 200)
        #expect(Self.post(stack, b, id: "n-b").body.contains("duplicate"), "a retry with the same notification id")
        let a = Self.callout(status: "USAGE_PUSHING", previous: "RUNNING")
        #expect(Self.post(stack, a, id: "n-a").body.contains("duplicate"), "late, already inferred")
        Thread.sleep(forTimeInterval: 3.5)  // the next poll confirms COMPLETED and counts nothing
        let samples = stack.metrics()
        #expect(Self.transitions(samples, "RUNNING", "USAGE_PUSHING") == 1)
        #expect(Self.transitions(samples, "USAGE_PUSHING", "COMPLETED") == 1)
        #expect(samples.all("zuora_meter_run_status_transitions_total", meter(101)).count == 2, "nothing else counted")
        #expect(Self.webhookCount(stack, "duplicate") == 2 && Self.webhookCount(stack, "accepted") == 1)
        let duration = samples.value(
            "zuora_meter_last_session_duration_seconds",
            meter(101).merging(["run_type": "NORMAL"]) { $1 }
        )
        #expect(duration == 1200.5)
        #expect(
            samples.value("zuora_meter_session_duration_seconds_count", ["run_type": "NORMAL", "status": "COMPLETED"])
                == 1
        )
    }

    @Test func pushAndPollCountAChangeOnceWhicheverComesFirst() throws {
        let stack = try Self.stack(pollInterval: "100ms", startExporter: false)
        stack.setStatus(101, #""RUNNING""#)
        try stack.startExporter()
        #expect(stack.waitForMetrics { $0.value("zuora_meter_run_status", meter(101)) == 5 })
        stack.setStatus(101, #""FAILED""#)
        #expect(
            Self.post(stack, Self.callout(status: "FAILED", previous: "RUNNING", session: "s-2"), id: "n-1").status
                == 200
        )
        Thread.sleep(forTimeInterval: 1)
        let samples = stack.metrics()
        #expect(Self.transitions(samples, "RUNNING", "FAILED") == 1)
        #expect(samples.value("zuora_meter_run_failures_total", meter(101)) == 1)
        #expect(samples.value("zuora_meter_run_status", meter(101)) == 8)
    }

    @Test func malformedCalloutsAreRefusedAndChangeNothing() throws {
        let stack = try Self.stack()
        let before = stack.metrics().filter { $0.name.hasPrefix("zuora_meter_") }
        let bodies = [
            "not json", "{}", #"{"meterId":"x","status":"RUNNING","sessionId":"s"}"#,
            Self.callout(status: "SLEEPING", previous: "RUNNING"), #"{"meterId":101,"status":"RUNNING"}"#,
            #"{"meterId":101,"sessionId":"s","status":"RUNNING","runType":"OTHER"}"#,
        ]
        for body in bodies {
            let answer = Self.post(stack, body)
            #expect(answer.status == 400, "\(body)")
            #expect(
                answer.body.hasPrefix(#"{"error":"#) && !answer.body.contains("\n"),
                "one-line JSON error: \(answer.body)"
            )
        }
        let huge = Self.post(
            stack,
            Self.callout(status: "RUNNING", previous: "INITIALIZING", name: String(repeating: "x", count: 70_000))
        )
        #expect(huge.status == 413)
        #expect(
            http("GET", "\(stack.exporterURL)/webhooks/meter-session-status", extra: ["-u", "zuora:\(Self.password)"])
                .status == 405
        )
        #expect(Self.webhookCount(stack, "invalid") == Double(bodies.count + 2))
        let after = stack.metrics().filter { $0.name.hasPrefix("zuora_meter_") && !$0.name.contains("poll") }
        #expect(
            after.filter { $0.name.contains("transitions") || $0.name.contains("failures") }
                == before.filter { $0.name.contains("transitions") || $0.name.contains("failures") }
        )
    }

    @Test func unconfiguredMetersAreTrackedUpToTheLimit() throws {
        let stack = try Self.stack(maxDynamic: 1)
        #expect(
            Self.post(stack, Self.callout(555, status: "RUNNING", previous: "INITIALIZING", name: "Partner feed"))
                .status == 200
        )
        let samples = stack.metrics()
        #expect(samples.all("zuora_meter_info", meter(555)).first?.labels["name"] == "Partner feed")
        #expect(samples.value("zuora_meter_run_status", meter(555)) == 5)
        let dropped = Self.post(stack, Self.callout(556, status: "RUNNING", previous: "INITIALIZING"))
        #expect(dropped.status == 200 && dropped.body.contains("dropped"))
        #expect(Self.webhookCount(stack, "dropped") == 1)
        #expect(stack.metrics().all("zuora_meter_info", meter(556)).isEmpty)
    }

    @Test func aReceiverWithoutAuthenticationMustBeDeclaredInsecure() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("zme-wh-\(UUID().uuidString).yml")
        try "zuora:\n  base_url: http://x\nmeters: []\nwebhook:\n  path: /hook\n".write(
            to: url,
            atomically: true,
            encoding: .utf8
        )
        defer { try? FileManager.default.removeItem(at: url) }
        let result = try runTool(
            binDirectory.appendingPathComponent("zuora-mediation-exporter").path,
            ["--config.file", url.path, "--config.check"],
            environment: ["ZUORA_CLIENT_ID": "a", "ZUORA_CLIENT_SECRET": "b"]
        )
        #expect(result.status == 1 && result.output.contains("insecure: true"), "\(result.output)")
    }
}
