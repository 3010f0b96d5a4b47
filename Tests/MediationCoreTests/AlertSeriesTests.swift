import ExpositionParser
import Prometheus
import Testing

@testable import MediationCore

/// Series the alert rules rely on from the first scrape: the configured intervals, the shard, failure
/// counters at 0 for every configured meter-version, every callout result at 0.
struct AlertSeriesTests {
    @Test func configuredIntervalsAndTheShardAreShown() {
        let metrics = ExporterMetrics(version: "test", revision: "test")
        metrics.setShard(index: 2, total: 3)
        metrics.setConfiguredIntervals(active: 60, rest: 900)
        metrics.setConfiguredIntervals(active: 30, rest: 600)
        let exposition = ParsedExposition(text(metrics.registry.emitToBuffer()))
        #expect(exposition.value("zuora_exporter_shard_info", ["shard": "2", "total_shards": "3"]) == 1)
        #expect(exposition.value("zuora_exporter_configured_poll_interval_seconds", ["state": "active"]) == 30)
        #expect(exposition.value("zuora_exporter_configured_poll_interval_seconds", ["state": "rest"]) == 600)
    }

    @Test func everyCalloutResultIsAtZeroOnceAReceiverExists() {
        let metrics = ExporterMetrics(version: "test", revision: "test")
        metrics.enableWebhookSeries()
        let exposition = ParsedExposition(text(metrics.registry.emitToBuffer()))
        for event in WebhookEvent.allCases {
            for result in WebhookResult.allCases {
                let labels = ["event": event.rawValue, "result": result.rawValue]
                #expect(exposition.value("zuora_webhook_requests_total", labels) == 0, "\(labels)")
            }
        }
        #expect(exposition.samples("zuora_summaries_given_up_total").isEmpty, "summaries off: no series of theirs")
        #expect(
            exposition.samples("zuora_api_request_duration_seconds_count", matching: ["endpoint": "summary"]).isEmpty
        )
    }

    @Test func failureCountersStartAtZeroForEveryConfiguredMeterBeforeAnyPoll() {
        let hub = StatusHub()
        hub.configure([spec(101), spec(102, "1.0.0")])
        let exposition = ParsedExposition(text(hub.store.body()))
        for meter in [key(101), key(102, "1.0.0")] {
            #expect(exposition.value("zuora_meter_run_failures_total", meterLabels(meter)) == 0)
        }
    }
}
