/// Record counts: which ended runs ask for a summary (once per session), the summaries' results, and the
/// running sessions' periodic snapshots. Pure, like the rest of the tracker.
extension StatusTracker {
    /// Follows a run through one counted status change: its start (the summary window's), its session, and
    /// its end, which is reported as an `EndedRun` unless its session was reported ended before.
    static func followRun(
        from previous: RunStatus,
        to status: RunStatus,
        key: MeterKey,
        at time: Double,
        in state: inout MeterState,
        changes: inout TrackerChanges,
        session: String?,
        seenBefore: Double?
    ) {
        if status.isEnded {
            let sessionId = session ?? state.records.currentSessionId
            // A run that started and ended between two observations began after the last one.
            let start =
                state.records.runStartedAt ?? (previous.isAtRest ? seenBefore : nil) ?? state.statusSince ?? time
            state.records.runStartedAt = nil
            state.records.currentSessionId = nil
            // Its snapshot goes: a long-lived exporter must not collect the operators of finished runs.
            state.records.running = nil
            if let sessionId, state.records.endedSessionIds.contains(sessionId) { return }
            if let sessionId { state.records.rememberEnded(sessionId) }
            state.records.lastEnd = MeterRecords.RunEnd(sessionId: sessionId, status: status.name, at: time)
            changes.endedRuns.append(
                EndedRun(
                    key: key,
                    status: status.name,
                    sessionId: sessionId,
                    windowStart: min(start, time),
                    windowEnd: time
                )
            )
        } else if status.isAtRest {
            state.records.runStartedAt = nil
            state.records.currentSessionId = nil
        } else {
            if previous.isAtRest || state.records.runStartedAt == nil {
                // A poll sees a start late (up to an at-rest interval): the window opens at the last poll that
                // still saw the meter at rest. A callout tells the time itself.
                let pollSawStart = session == nil ? seenBefore : nil
                state.records.runStartedAt = previous.isAtRest ? (pollSawStart ?? time) : (state.statusSince ?? time)
                // A poll does not know the session; a periodic snapshot of a session not ended may have told.
                state.records.currentSessionId = session ?? state.records.running?.sessionId
            } else if let session {
                state.records.currentSessionId = session
            }
        }
    }

    /// A callout reports the ended status the meter is in already (a poll saw the end first). When that
    /// end's session was unknown, this is it: the pending summary asks for it by id. When the last end was
    /// of another session, this session's start went unseen: its end asks for a summary of its own.
    /// Nothing when no end was counted (a first observation after a restart).
    mutating func identifySession(_ event: StatusEvent, in state: inout MeterState, changes: inout TrackerChanges) {
        guard event.status.isEnded, let end = state.records.lastEnd, end.status == event.status.name,
            !state.records.endedSessionIds.contains(event.sessionId)
        else { return }
        state.records.rememberEnded(event.sessionId)
        state.records.lastEnd?.sessionId = event.sessionId
        state.records.running = nil
        if end.sessionId == nil {
            changes.sessionsIdentified.append((event.key, event.sessionId, end.at))
        } else {
            let since = state.statusSince ?? 0
            changes.endedRuns.append(
                EndedRun(
                    key: event.key,
                    status: event.status.name,
                    sessionId: event.sessionId,
                    windowStart: since,
                    windowEnd: since
                )
            )
        }
    }

    /// Puts what `changes` reports into the summary queue, when summaries are on.
    mutating func queueSummaries(_ changes: TrackerChanges) {
        guard recordSettings.enabled else { return }
        for run in changes.endedRuns { summaries.enqueue(run) }
        for (key, sessionId, endedAt) in changes.sessionsIdentified {
            summaries.identify(key, sessionId: sessionId, endedAt: endedAt)
        }
    }

    /// Applies a periodic snapshot. Meters not configured follow the dynamic-meter rules of status
    /// callouts; a snapshot of a session already reported ended (a late retry) is `stale`.
    public mutating func record(
        _ event: PeriodicEvent,
        at time: Double,
        heardAt: Double = 0,
        maxDynamicMeters: Int
    ) -> (TrackerChanges, EventOutcome) {
        var changes = TrackerChanges()
        guard var state = admittedState(of: event.key, maxDynamicMeters: maxDynamicMeters) else {
            return (changes, .dropped)
        }
        state.lastCalloutAt = heardAt
        if state.records.endedSessionIds.contains(event.sessionId) || Self.isOfAFinishedSession(event, state) {
            // A late retry, or a session that ended: its snapshot would linger (or replace the running
            // session's) and its id could be taken for the next run's.
            if !state.records.endedSessionIds.contains(event.sessionId) { state.records.rememberEnded(event.sessionId) }
            if state.records.running?.sessionId == event.sessionId {
                state.records.running = nil
                changes.updated.insert(event.key)
            }
            if meters[event.key] != nil { meters[event.key] = state }
            return (changes, .stale)
        }
        state.reportedName = event.meterName.flatMap { $0.isEmpty ? nil : $0 } ?? state.reportedName
        var running = state.records.running
        if running?.sessionId != event.sessionId {
            running = RunningSnapshot(sessionId: event.sessionId, updatedAt: time)
            running?.startedAt = event.startedAt
        }
        running?.record(event.operatorId, event.counts, limit: recordSettings.maxOperators)
        running?.updatedAt = time
        state.records.running = running
        if state.status.map({ !$0.isAtRest }) == true { state.records.currentSessionId = event.sessionId }
        changes.updated.insert(event.key)
        meters[event.key] = state
        return (changes, .accepted)
    }

    /// A snapshot that says its session ended, that started before the meter's current rest began, or that
    /// started before the running session's does.
    static func isOfAFinishedSession(_ event: PeriodicEvent, _ state: MeterState) -> Bool {
        if event.endedAt != nil { return true }
        guard let started = event.startedAt else { return false }
        if let status = state.status, status.isAtRest, let since = state.statusSince, started < since { return true }
        if let running = state.records.running, running.sessionId != event.sessionId,
            let runningStart = running.startedAt, started < runningStart
        {
            return true
        }
        return false
    }

    /// Takes a new `summary:` section (start-up and reload). Lower limits apply to what is shown already;
    /// summaries turned off drop the queue (no request goes out).
    public mutating func configureRecords(_ settings: SummaryConfig) -> TrackerChanges {
        var changes = TrackerChanges()
        recordSettings = settings
        if !settings.enabled { summaries.clear() }
        for (key, state) in meters {
            var records = state.records
            records.lastSession?.rebound(maxOperators: settings.maxOperators, maxErrorCodes: settings.maxErrorCodes)
            records.running?.rebound(limit: settings.maxOperators)
            if records != state.records || state.countsRecords != settings.enabled {
                meters[key]?.records = records
                meters[key]?.countsRecords = settings.enabled
                changes.updated.insert(key)
            }
        }
        return changes
    }

    /// The attempt at `entry`'s summary ended. A summary received becomes the meter-version's last session
    /// (bounded) and adds to its totals; `takenAt` is the wall-clock time shown.
    public mutating func finishSummary(
        _ entry: SummaryQueue.Entry,
        _ result: SummaryFetchResult,
        now: Double,
        takenAt: Double
    ) -> (TrackerChanges, SummaryQueue.Finish?) {
        var changes = TrackerChanges()
        let failure: (PollErrorReason, String)?
        var tenantWide = false
        switch result {
        case .failure(let reason, let message, let scope):
            failure = (reason, message)
            tenantWide = scope == .tenant
        case .summary: failure = nil
        }
        let finish = summaries.finish(
            entry.id,
            failure: failure,
            tenantWide: tenantWide,
            now: now,
            maxAttempts: recordSettings.maxAttempts
        )
        if case .summary(let summary) = result, finish == .done, var state = meters[entry.run.key] {
            state.records.lastSession = LastSessionRecords(
                summary,
                takenAt: takenAt,
                maxOperators: recordSettings.maxOperators,
                maxErrorCodes: recordSettings.maxErrorCodes
            )
            state.records.total = state.records.total + summary.total
            meters[entry.run.key] = state
            changes.updated.insert(entry.run.key)
        }
        return (changes, finish)
    }

    public mutating func nextSummary(now: Double) -> SummaryQueue.Next { summaries.next(now: now) }

    public mutating func abandonSummary(_ id: UInt64) { summaries.abandon(id) }
}
