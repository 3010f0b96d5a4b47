/// Record counts read back from `--storage.path`: a file is not trusted more than a callout. Labels and
/// ids over the callout limits, times that are not finite, statuses nobody documented are dropped; what
/// is kept is bounded again by the limits in force.
extension MeterRecords {
    func restored(within limits: SummaryConfig) -> MeterRecords {
        func fits(_ text: String) -> Bool { text.utf8.count <= SessionSummary.maxLabelBytes }
        let time = TrackerSnapshot.restoredTime
        var out = MeterRecords()
        out.total = total
        if var last = lastSession, let takenAt = time(last.takenAt) {
            last.takenAt = takenAt
            last.operators = last.operators.filter { fits($0.key) }
            last.errorCodes = last.errorCodes.filter { fits($0.key) }
            last.rebound(maxOperators: limits.maxOperators, maxErrorCodes: limits.maxErrorCodes)
            out.lastSession = last
        }
        if var running, fits(running.sessionId), time(running.updatedAt) != nil, running.isWithinMemory,
            running.operators.keys.allSatisfy(fits)
        {
            running.rebound(limit: limits.maxOperators)
            out.running = running
        }
        out.runStartedAt = time(runStartedAt)
        out.currentSessionId = currentSessionId.flatMap { fits($0) ? $0 : nil }
        if let end = lastEnd, RunStatus(name: end.status)?.isEnded == true, end.sessionId.map(fits) ?? true {
            out.lastEnd = end
        }
        out.endedSessionIds = endedSessionIds.suffix(Self.endedSessionMemory).filter(fits)
        return out
    }
}
