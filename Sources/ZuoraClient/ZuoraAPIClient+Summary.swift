public import MediationCore
import Synchronization

/// `POST {base}/meters/{meterId}/summary`, our reading of Zuora's partly documented summary API: grouped by
/// operator id and error code, for the run's session when a callout named it, else for its observed
/// window (ISO 8601 UTC, whole seconds, widened outwards). Same token, gate, 401 retry, fault
/// classification and request metrics as `runStatus`; it waits in the gate while the budget has no room
/// beyond one poll of every meter-version (polls come first).
extension ZuoraAPIClient {
    /// A summary grouped by operator and error code grows with the tenant's operators: 10,000 operators
    /// answer about 2.8 MB. Larger than a run status's cap, still bounded.
    static let summaryMaxBodyBytes = 16 << 20

    public func fetchSummary(_ run: EndedRun) async -> SummaryFetchResult {
        let base = settings.withLock { $0.baseURL }
        let url = "\(base)/meters/\(run.key.meterId)/summary"
        let keeping = pollReserve.withLock { $0 }
        let body = Self.summaryBody(run)
        switch await send(
            .summary,
            method: "POST",
            url: url,
            body: body,
            keeping: keeping,
            maxBodyBytes: Self.summaryMaxBodyBytes
        ) {
        case .failed(let failure):
            guard case .failure(let reason, let message) = failure.result else {
                return .failure(.network, message: "no answer", scope: failure.scope)
            }
            return .failure(reason, message: message, scope: failure.scope)
        case .answered(let response):
            return ZuoraFaults.summary(of: response)
        }
    }

    /// The request body (the contract's shape).
    static func summaryBody(_ run: EndedRun) -> [UInt8] {
        let groupBy = #""groupBy":["operatorId","errorCode"]"#
        if let session = run.sessionId {
            return Array(#"{\#(groupBy),"sessionIds":[\#(TextEscaping.json(session))]}"#.utf8)
        }
        let from = ISO8601.format(run.windowStart.rounded(.down))
        let to = ISO8601.format(run.windowEnd.rounded(.up))
        return Array(#"{\#(groupBy),"queryFromTime":"\#(from)","queryToTime":"\#(to)"}"#.utf8)
    }
}
