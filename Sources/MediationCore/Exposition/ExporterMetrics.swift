public import Prometheus
import Synchronization

/// The exporter's own series, which change with every request and are rendered per scrape by
/// swift-prometheus (unlike the per-meter families, which MetricStore renders once per change).
public final class ExporterMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let pollCycleDuration: Gauge
    private let tokenExpiry: Gauge
    /// The request series by endpoint and code, kept so that each request skips the registry's lookup
    /// (its lock and label matching), which showed in profiles at thousands of requests a second.
    private let requestSeries = Mutex<[RequestSeriesKey: (count: Counter, duration: ValueHistogram)]>([:])

    private struct RequestSeriesKey: Hashable {
        let endpoint: APIEndpoint
        let code: Int
    }

    private static let requestBuckets: [Double] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    public init(version: String, revision: String) {
        registry.makeGauge(
            descriptor: Self.describe("zuora_exporter_build_info", "Version and revision of the exporter; always 1."),
            labels: [("version", version), ("revision", revision)]
        ).set(to: 1)
        pollCycleDuration = registry.makeGauge(
            descriptor: Self.describe(
                "zuora_exporter_poll_cycle_duration_seconds",
                "How long the last full poll cycle over every configured meter-version took."
            )
        )
        tokenExpiry = registry.makeGauge(
            descriptor: Self.describe(
                "zuora_oauth_token_expiry_timestamp_seconds",
                "Expiry of the current Zuora OAuth access token, in seconds since the epoch; 0 before the first."
            )
        )
        // Summary requests' series appear only once summaries are on (`enableSummarySeries`).
        for endpoint in APIEndpoint.allCases where endpoint != .summary {
            _ = requestDuration(endpoint)
        }
    }

    public func setTokenExpiry(_ timestamp: Double) { tokenExpiry.set(to: timestamp) }

    public func setPollCycleDuration(_ seconds: Double) { pollCycleDuration.set(to: seconds) }

    /// Counts one HTTP request to Zuora; `code` is the HTTP status, 0 when no response arrived.
    public func recordRequest(_ endpoint: APIEndpoint, code: Int, seconds: Double) {
        let key = RequestSeriesKey(endpoint: endpoint, code: code)
        let series =
            requestSeries.withLock { $0[key] }
            ?? {
                let made = (
                    count: registry.makeCounter(
                        descriptor: Self.describe(
                            "zuora_api_requests_total",
                            "HTTP requests made to the Zuora API by endpoint and status code (0: no response)."
                        ),
                        labels: [("endpoint", endpoint.rawValue), ("code", String(code))]
                    ),
                    duration: requestDuration(endpoint)
                )
                requestSeries.withLock { $0[key] = made }
                return made
            }()
        series.count.increment()
        series.duration.record(seconds)
    }

    private func requestDuration(_ endpoint: APIEndpoint) -> ValueHistogram {
        registry.makeValueHistogram(
            descriptor: Self.describe(
                "zuora_api_request_duration_seconds",
                "Latency of HTTP requests to the Zuora API by endpoint."
            ),
            labels: [("endpoint", endpoint.rawValue)],
            buckets: Self.requestBuckets
        )
    }

    /// The outcome of loading the configuration, as Prometheus itself reports its own reloads.
    public func recordReload(successful: Bool, at time: Double) {
        registry.makeGauge(
            descriptor: Self.describe(
                "zuora_exporter_config_last_reload_successful",
                "Whether the last configuration reload attempt was successful."
            )
        ).set(to: successful ? 1 : 0)
        guard successful else { return }
        registry.makeGauge(
            descriptor: Self.describe(
                "zuora_exporter_config_last_reload_success_timestamp_seconds",
                "Timestamp of the last successful configuration reload."
            )
        ).set(to: time)
    }

    /// The poll intervals in force after any stretching for the request budget.
    public func setEffectiveIntervals(active: Double, rest: Double) {
        setIntervals(
            "zuora_exporter_effective_poll_interval_seconds",
            "Poll interval in force for meters in a working state (active) and at rest, after any "
                + "stretching to stay within zuora.request_budget.",
            active: active,
            rest: rest
        )
    }

    /// The poll intervals the configuration asks for (`poll_interval`, `idle_poll_interval`), before any
    /// stretching: an alert compares them with the effective ones and with the age of the last poll.
    public func setConfiguredIntervals(active: Double, rest: Double) {
        setIntervals(
            "zuora_exporter_configured_poll_interval_seconds",
            "Poll interval the configuration sets for meters in a working state (active: poll_interval) "
                + "and at rest (rest: idle_poll_interval), before any stretching.",
            active: active,
            rest: rest
        )
    }

    /// One gauge per `state` (`active`, `rest`) of an interval family.
    private func setIntervals(_ name: String, _ help: String, active: Double, rest: Double) {
        for (state, value) in [("active", active), ("rest", rest)] {
            registry.makeGauge(descriptor: Self.describe(name, help), labels: [("state", state)]).set(to: value)
        }
    }

    /// This replica's shard (`--shard`, `--total-shards`); shard 0 of 1 when not sharded.
    public func setShard(index: Int, total: Int) {
        registry.makeGauge(
            descriptor: Self.describe(
                "zuora_exporter_shard_info",
                "This replica's shard and how many replicas share the meters (--shard, --total-shards); always 1."
            ),
            labels: [("shard", String(index)), ("total_shards", String(total))]
        ).set(to: 1)
    }

    /// Requests left in each budget window.
    public func setBudgetRemaining(_ remaining: [(window: String, remaining: Int)]) {
        for (window, value) in remaining {
            registry.makeGauge(
                descriptor: Self.describe(
                    "zuora_api_request_budget_remaining",
                    "Requests to Zuora this exporter may still make in the current window of zuora.request_budget."
                ),
                labels: [("window", window)]
            ).set(to: Double(value))
        }
    }

    /// Counts one callout request by what became of it.
    public func recordWebhook(_ result: WebhookResult, event: WebhookEvent) {
        webhookCounter(result, event).increment()
    }

    /// Shows every result of both callouts at 0 from the start, so that rates work from the first callout.
    public func enableWebhookSeries() {
        for event in WebhookEvent.allCases {
            for result in WebhookResult.allCases { _ = webhookCounter(result, event) }
        }
        _ = sessionDuration(runType: "NORMAL", status: "COMPLETED")
    }

    /// Shows the summary series once summaries are on: the request latency and every give-up reason at 0.
    public func enableSummarySeries() {
        _ = requestDuration(.summary)
        for reason in PollErrorReason.allCases { _ = summaryFailures(reason) }
    }

    /// Counts a session summary given up after its last attempt failed for `reason`.
    public func recordSummaryFailure(_ reason: PollErrorReason) { summaryFailures(reason).increment() }

    /// Not `zuora_summary_…`: promtool's lint reads `_summary_` in a name as the summary metric type.
    private func summaryFailures(_ reason: PollErrorReason) -> Counter {
        registry.makeCounter(
            descriptor: Self.describe(
                "zuora_summaries_given_up_total",
                "Session summaries (Zuora's summary API) given up after summary.max_attempts, by the reason of "
                    + "the last attempt (as zuora_meter_poll_errors_total); 400 and 404 are given up at once."
            ),
            labels: [("reason", reason.rawValue)]
        )
    }

    public func observeSession(_ session: EndedSession) {
        sessionDuration(runType: session.runType, status: session.status).record(session.duration)
    }

    /// Counts one callout handed to the replica that owns its meter-version.
    public func recordForward(_ result: ForwardResult) { forwardCounter(result).increment() }

    /// Shows every forwarding result at 0 once forwarding is on.
    public func enableForwardSeries() {
        for result in ForwardResult.allCases { _ = forwardCounter(result) }
    }

    private func forwardCounter(_ result: ForwardResult) -> Counter {
        registry.makeCounter(
            descriptor: Self.describe(
                "zuora_webhook_forwarded_total",
                "Callouts forwarded to the replica that owns their meter-version, by result (ok, refused, unreachable)."
            ),
            labels: [("result", result.rawValue)]
        )
    }

    private func webhookCounter(_ result: WebhookResult, _ event: WebhookEvent) -> Counter {
        registry.makeCounter(
            descriptor: Self.describe(
                "zuora_webhook_requests_total",
                "Callouts received, by event (status_change: Meter Session Status Change, periodic_status: Meter "
                    + "Session Periodic Status Update) and result "
                    + "(accepted, duplicate, unauthorized, invalid, dropped, other_shard, misdirected)."
            ),
            labels: [("event", event.rawValue), ("result", result.rawValue)]
        )
    }

    private static let sessionBuckets: [Double] = [10, 30, 60, 300, 600, 1800, 3600, 7200, 14_400, 43_200, 86_400]

    private func sessionDuration(runType: String, status: String) -> ValueHistogram {
        registry.makeValueHistogram(
            descriptor: Self.describe(
                "zuora_meter_session_duration_seconds",
                "Durations of ended meter sessions across all meters, by run type and final status, from callouts."
            ),
            labels: [("run_type", runType), ("status", status)],
            buckets: Self.sessionBuckets
        )
    }

    /// A descriptor for a full metric name (the contract's names are given whole, not in parts).
    public static func describe(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}

/// The `result` label of `zuora_webhook_requests_total`.
public enum WebhookResult: String, CaseIterable, Sendable {
    case accepted, duplicate, unauthorized, invalid, dropped
    /// For a meter-version another shard owns (`--shard`): left to that replica's polling.
    case otherShard = "other_shard"
    /// A callout forwarded by another replica for a meter-version this one does not own either (the
    /// replicas disagree on the shards, e.g. during a re-shard): refused, never forwarded again.
    case misdirected
}

/// The `event` label of `zuora_webhook_requests_total`: which callout, by the path it arrived at.
public enum WebhookEvent: String, CaseIterable, Sendable {
    case statusChange = "status_change"
    case periodicStatus = "periodic_status"
}

/// The `result` label of `zuora_webhook_forwarded_total`.
public enum ForwardResult: String, CaseIterable, Sendable {
    /// The owner answered; its answer was relayed.
    case ok
    /// The peer refused the forward (it does not own the meter-version, or the replica secrets differ).
    case refused
    /// The owner did not answer in time.
    case unreachable
}

/// The `endpoint` label of the API request series.
public enum APIEndpoint: String, CaseIterable, Sendable {
    case token
    case runStatus = "run_status"
    case summary
}
