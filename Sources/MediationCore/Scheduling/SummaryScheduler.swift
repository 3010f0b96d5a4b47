public import Logging

/// Asks for the summaries of ended runs, one at a time, from the queue the tracker keeps
/// (`SummaryQueue`): retries with back-off, gives up after `summary.max_attempts` with one warning and
/// `zuora_summaries_given_up_total`. It never touches the run-status state: a summary that fails, hangs or
/// answers garbage changes nothing but its own series. Nothing goes out while polling is paused for a
/// tenant fault; the gate holds it back while the budget is needed for polls.
public final class SummaryScheduler: Sendable {
    private let hub: StatusHub
    private let fetcher: any SummaryFetching
    private let metrics: ExporterMetrics
    private let logger: Logger
    private let clock: any MonotonicClock
    private let tenantPaused: @Sendable () -> Bool

    public init(
        hub: StatusHub,
        fetcher: any SummaryFetching,
        metrics: ExporterMetrics,
        logger: Logger,
        clock: any MonotonicClock = SystemMonotonicClock(),
        tenantPaused: @escaping @Sendable () -> Bool = { false }
    ) {
        self.hub = hub
        self.fetcher = fetcher
        self.metrics = metrics
        self.logger = logger
        self.clock = clock
        self.tenantPaused = tenantPaused
    }

    /// Runs until the task is cancelled; a summary in flight is then abandoned (it stays queued).
    public func run() async {
        while !Task.isCancelled {
            let now = clock.now()
            if tenantPaused() {
                await hub.summaryWakeup.wait(until: now + 1, on: clock)
                continue
            }
            switch hub.nextSummary() {
            case .idle, .busy:
                // Woken when a run ends; the minute is a safety net only.
                await hub.summaryWakeup.wait(until: now + 60, on: clock)
            case .wait(let until):
                await hub.summaryWakeup.wait(until: until, on: clock)
            case .send(let entry):
                let result = await fetcher.fetchSummary(entry.run)
                if Task.isCancelled {
                    hub.abandonSummary(entry.id)
                    return
                }
                report(entry, result, hub.finishSummary(entry, result))
            }
        }
    }

    private func report(_ entry: SummaryQueue.Entry, _ result: SummaryFetchResult, _ finish: SummaryQueue.Finish?) {
        var metadata: Logger.Metadata = [
            "meter_id": "\(entry.run.key.meterId)", "version": "\(entry.run.key.version)",
            "session_id": "\(entry.run.sessionId ?? "")", "status": "\(entry.run.status)",
        ]
        switch finish {
        case .done:
            if case .summary(let summary) = result {
                metadata["output"] = "\(summary.total.output)"
                metadata["error"] = "\(summary.total.error)"
            }
            logger.debug("session summary received", metadata: metadata)
        case .retry(let at):
            if case .failure(let reason, let message, _) = result {
                metadata["reason"] = "\(reason.rawValue)"
                metadata["error"] = "\(message)"
            }
            metadata["attempt"] = "\(entry.attempts + 1)"
            metadata["retry_in"] = "\(DurationText.format(max(0, at - clock.now())))"
            logger.debug("session summary request failed; retrying", metadata: metadata)
        case .gaveUp(let reason, let message, let attempts):
            metrics.recordSummaryFailure(reason)
            metadata["reason"] = "\(reason.rawValue)"
            metadata["error"] = "\(message)"
            metadata["attempts"] = "\(attempts)"
            logger.warning("gave up on a session summary; its record counts stay unknown", metadata: metadata)
        case nil:
            break
        }
    }
}
