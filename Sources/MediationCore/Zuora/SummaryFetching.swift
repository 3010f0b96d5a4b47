/// Fetches one ended run's summary. The Zuora client implements it; tests use fakes.
public protocol SummaryFetching: Sendable {
    /// By session id when the run has one, else by its observed window. Returns promptly when the calling
    /// task is cancelled (the result is then ignored).
    func fetchSummary(_ run: EndedRun) async -> SummaryFetchResult
}

/// What one summary request got.
public enum SummaryFetchResult: Sendable, Equatable {
    case summary(SessionSummary)
    /// Why not, with the same reasons as a poll's; `scope` as for polls (`FaultScope`).
    case failure(PollErrorReason, message: String, scope: FaultScope)
}
