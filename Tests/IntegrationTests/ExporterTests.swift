import ExpositionParser
import Foundation
import Testing

/// The exporter and the simulator as real processes: statuses driven through the control API,
/// observed on /metrics.
@Suite(.serialized)
struct ExporterTests {
    @Test func statusChangesAreCountedAsTheyAreObserved() throws {
        let stack = try Stack(startExporter: false)
        stack.setStatus(101, "5")
        try stack.startExporter()
        #expect(stack.waitForMetrics { $0.value("zuora_meter_run_status", meter(101)) == 5 })
        let first = stack.metrics()
        #expect(
            first.all("zuora_meter_run_status_transitions_total", meter(101)).isEmpty,
            "first observation is no transition"
        )
        #expect(first.value("zuora_meter_info", meter(101)) == 1)
        #expect(first.all("zuora_meter_info", meter(101)).first?.labels["name"] == "Usage ingestion")
        #expect(first.value("zuora_meter_run_status", meter(102)) == 1, "102 untouched: NEVER_RUN")

        stack.setStatus(101, #""FAILED""#)
        #expect(stack.waitForMetrics { $0.value("zuora_meter_run_status", meter(101)) == 8 })
        let failed = stack.metrics()
        #expect(
            failed.value(
                "zuora_meter_run_status_transitions_total",
                meter(101).merging(["from": "RUNNING", "to": "FAILED"]) { $1 }
            ) == 1
        )
        #expect(failed.value("zuora_meter_run_failures_total", meter(101)) == 1)
        let states = failed.all("zuora_meter_run_state", meter(101))
        #expect(states.count == 14, "13 documented states plus UNKNOWN")
        #expect(states.filter { $0.value == 1 }.map { $0.labels["state"] } == ["FAILED"])
        let changedAt = try #require(failed.value("zuora_meter_run_status_last_change_timestamp_seconds", meter(101)))
        #expect(abs(changedAt - Date().timeIntervalSince1970) < 30)

        // A code nobody documented is exposed as its integer and named UNKNOWN.
        stack.setStatus(101, "42")
        #expect(stack.waitForMetrics { $0.value("zuora_meter_run_status", meter(101)) == 42 })
        let unknown = stack.metrics()
        #expect(unknown.value("zuora_meter_run_state", meter(101).merging(["state": "UNKNOWN"]) { $1 }) == 1)
        #expect(
            unknown.value(
                "zuora_meter_run_status_transitions_total",
                meter(101).merging(["from": "FAILED", "to": "UNKNOWN"]) { $1 }
            ) == 1
        )
        #expect(unknown.value("zuora_meter_run_failures_total", meter(101)) == 1, "leaving FAILED is no failure")
    }

    @Test func aFailingMeterDoesNotAffectTheOthers() throws {
        let stack = try Stack(meterConfig: "  - id: 101\n  - id: 999\n")
        stack.setStatus(101, "5")
        #expect(
            stack.waitForMetrics {
                ($0.value("zuora_meter_poll_errors_total", meter(999).merging(["reason": "not_found"]) { $1 }) ?? 0)
                    >= 2
            }
        )
        let samples = stack.metrics()
        #expect(samples.value("zuora_meter_poll_success", meter(999)) == 0)
        #expect(samples.value("zuora_meter_poll_success", meter(101)) == 1)
        #expect(samples.value("zuora_meter_run_status", meter(999)) == nil, "never observed: no status")

        // Server errors on 101 keep its last status and count the error.
        stack.control("POST", "meters/101/0.0.1/fault", #"{"status":500,"count":3}"#)
        #expect(
            stack.waitForMetrics {
                ($0.value("zuora_meter_poll_errors_total", meter(101).merging(["reason": "server_error"]) { $1 }) ?? 0)
                    >= 1
            }
        )
        let during = stack.metrics()
        #expect(during.value("zuora_meter_run_status", meter(101)) == 5, "a failed poll keeps the last status")
        #expect(
            stack.waitForMetrics { $0.value("zuora_meter_poll_success", meter(101)) == 1 },
            "recovers after the fault"
        )
        let lastSuccess = try #require(
            stack.metrics().value("zuora_meter_last_poll_success_timestamp_seconds", meter(101))
        )
        #expect(abs(lastSuccess - Date().timeIntervalSince1970) < 30)
        #expect(stack.exporter?.log.contains("Zuora-Request-Id") == true, "error log line carries the request id")
    }

    @Test func aRevokedTokenIsReplacedAfterA401() throws {
        // Caching, refresh ahead of expiry and the retry after a 401 are `TokenTests`; here, end to end.
        let stack = try Stack(pollInterval: "200ms")
        stack.setStatus(101, "5")
        #expect(stack.waitForMetrics { $0.value("zuora_meter_run_status", meter(101)) == 5 })
        let expiry = try #require(stack.metrics().value("zuora_oauth_token_expiry_timestamp_seconds"))
        #expect(expiry > Date().timeIntervalSince1970 + 3000, "an hour's token")

        stack.control("POST", "tokens/revoke")
        let ok = ["endpoint": "run_status", "code": "200"]
        var answeredBefore = 0.0
        #expect(
            stack.waitForMetrics {
                answeredBefore = $0.value("zuora_api_requests_total", ok) ?? 0
                return ($0.value("zuora_api_requests_total", ["endpoint": "run_status", "code": "401"]) ?? 0) >= 1
            }
        )
        #expect(stack.waitForMetrics { ($0.value("zuora_api_requests_total", ok) ?? 0) >= answeredBefore + 2 })
        let samples = stack.metrics()
        #expect(samples.value("zuora_meter_poll_success", meter(101)) == 1, "the retry after 401 succeeded")
        #expect(samples.value("zuora_meter_poll_errors_total", meter(101).merging(["reason": "auth"]) { $1 }) == nil)
        #expect((samples.value("zuora_api_requests_total", ["endpoint": "token", "code": "200"]) ?? 0) >= 2)
    }

    @Test func badCredentialsAreAnAuthErrorAndTheSecretStaysHidden() throws {
        let stack = try Stack(pollInterval: "100ms", clientSecret: "wrong-secret")
        #expect(
            stack.waitForMetrics {
                $0.all("zuora_meter_poll_errors_total").filter { $0.labels["reason"] == "auth" }
                    .reduce(0) { $0 + $1.value } >= 2
            }
        )
        let samples = stack.metrics()
        #expect((samples.value("zuora_api_requests_total", ["endpoint": "token", "code": "401"]) ?? 0) >= 1)
        // That failed token fetches pause the tenant instead of following every poll is `TenantPauseTests`.
        let everything =
            http("GET", "\(stack.exporterURL)/metrics").body + http("GET", "\(stack.exporterURL)/").body
            + (stack.exporter?.log ?? "")
        #expect(!everything.contains("wrong-secret"), "the secret never reaches metrics, pages or logs")
    }

    @Test func versionsAreEncodedInThePathAndEscapedInLabels() throws {
        let version = "1.0/beta \"x\"\\y"
        let stack = try Stack(
            simulatedMeters: "101",
            meterConfig: "  - id: 101\n    version: '\(version)'\n"
        )
        stack.setStatus(101, "7", version: version)
        #expect(
            stack.waitForMetrics { $0.value("zuora_meter_run_status", meter(101, version)) == 7 },
            "\(stack.exporter?.log ?? "")"
        )
    }
}
