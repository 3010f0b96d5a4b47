extension StatusTracker {
    /// How many recent session edges each meter-version remembers.
    static let edgeMemory = 32

    /// Applies a callout. Polls and callouts feed the same state: a change is counted once, whichever
    /// source saw it first. When the callout's previous status is not the known current one, the step
    /// that was missed is counted too (`current → previous`, then `previous → status`).
    /// `time` is the wall-clock time shown as the status's start; `heardAt` the monotonic time that
    /// dynamic meters expire by.
    public mutating func record(
        _ event: StatusEvent,
        at time: Double,
        heardAt: Double = 0,
        maxDynamicMeters: Int
    )
        -> (TrackerChanges, EventOutcome)
    {
        var changes = TrackerChanges()
        guard var state = admittedState(of: event.key, maxDynamicMeters: maxDynamicMeters) else {
            return (changes, .dropped)
        }
        let edge = SessionEdge(
            sessionId: event.sessionId,
            from: event.previousStatus?.name ?? "",
            to: event.status.name
        )
        if state.recentEdges.contains(edge) {
            if meters[event.key] != nil { meters[event.key]?.lastCalloutAt = heardAt }
            return (changes, .stale)
        }
        state.lastCalloutAt = heardAt
        state.statusCalloutAt = heardAt

        state.reportedName = event.meterName.flatMap { $0.isEmpty ? nil : $0 } ?? state.reportedName
        if let current = state.status {
            if current != event.status {
                if let previous = event.previousStatus, previous != current {
                    Self.count(
                        from: current,
                        to: previous,
                        key: event.key,
                        at: time,
                        in: &state,
                        changes: &changes,
                        session: event.sessionId
                    )
                    remember(SessionEdge(sessionId: event.sessionId, from: current.name, to: previous.name), in: &state)
                }
                Self.count(
                    from: state.status!,
                    to: event.status,
                    key: event.key,
                    at: time,
                    in: &state,
                    changes: &changes,
                    session: event.sessionId
                )
            } else {
                identifySession(event, in: &state, changes: &changes)
            }
        } else if let previous = event.previousStatus, previous != event.status {
            // Never observed before: the callout itself reports the change it announces.
            state.status = previous
            Self.count(
                from: previous,
                to: event.status,
                key: event.key,
                at: time,
                in: &state,
                changes: &changes,
                session: event.sessionId
            )
        } else {
            state.status = event.status
            state.statusSince = time
            if !event.status.isAtRest {
                state.records.runStartedAt = time
                state.records.currentSessionId = event.sessionId
            }
        }
        remember(edge, in: &state)
        if let duration = event.sessionDuration {
            state.lastSessionDuration[event.runType] = duration
            changes.endedSessions.append(
                EndedSession(runType: event.runType, status: event.status.name, duration: duration)
            )
        }
        changes.updated.insert(event.key)
        meters[event.key] = state
        queueSummaries(changes)
        return (changes, .accepted)
    }

    private func remember(_ edge: SessionEdge, in state: inout MeterState) {
        state.recentEdges.append(edge)
        if state.recentEdges.count > Self.edgeMemory { state.recentEdges.removeFirst() }
    }

    /// The state a callout about `key` applies to: the meter's, or a new dynamic meter's while fewer than
    /// `maxDynamicMeters` are known only from callouts; nil when the callout is to be dropped.
    func admittedState(of key: MeterKey, maxDynamicMeters: Int) -> MeterState? {
        if let existing = meters[key] { return existing }
        guard meters.values.count(where: { !$0.isConfigured }) < maxDynamicMeters else { return nil }
        return newMeter(configuredName: nil, isConfigured: false)
    }
}
