/// Export to and import from `TrackerSnapshot`: pure, like the rest of the tracker (the caller passes
/// the clocks' readings; `StateStore` does the file I/O).
extension StatusTracker {
    /// What a restore kept and dropped, for the start-up log.
    public struct RestoreSummary: Sendable, Equatable {
        public var restored = 0
        /// Entries for meter-versions no longer configured (nor dynamic and kept), or not usable.
        public var dropped = 0
        public var changes = TrackerChanges()
    }

    /// Every meter-version's state. `monotonicNow` turns the monotonic `lastCalloutAt` into an age.
    public func snapshot(monotonicNow: Double) -> [TrackerSnapshot.Meter] {
        meters.keys.sorted().compactMap { key in
            guard let state = meters[key] else { return nil }
            return TrackerSnapshot.Meter(
                meterId: key.meterId,
                version: key.version,
                configuredName: state.configuredName,
                reportedName: state.reportedName,
                isConfigured: state.isConfigured,
                status: state.status?.code,
                statusSince: state.statusSince,
                transitions: state.transitions.sorted { ($0.key.from, $0.key.to) < ($1.key.from, $1.key.to) }.map {
                    TrackerSnapshot.TransitionCount(from: $0.key.from, to: $0.key.to, count: $0.value)
                },
                failures: state.failures,
                lastPollSucceeded: state.lastPollSucceeded,
                lastPollAt: state.lastPollAt,
                lastPollSuccessAt: state.lastPollSuccessAt,
                pollErrors: Dictionary(uniqueKeysWithValues: state.pollErrors.map { ($0.key.rawValue, $0.value) }),
                lastError: state.lastError,
                lastSessionDuration: state.lastSessionDuration,
                recentEdges: state.recentEdges.map {
                    TrackerSnapshot.Edge(sessionId: $0.sessionId, from: $0.from, to: $0.to)
                },
                lastCalloutSecondsAgo: state.lastCalloutAt.map { max(0, monotonicNow - $0) },
                records: state.records == MeterRecords() ? nil : state.records
            )
        }
    }

    /// Brings back saved state, after `configure` at start-up. Configured meter-versions get their saved
    /// state (the configuration's name wins); a saved dynamic meter comes back when `keepDynamic` allows it
    /// (a callout receiver is configured and this shard owns it), within `maxDynamicMeters`, heard
    /// `lastCalloutSecondsAgo` before `monotonicNow`. Everything else is dropped. Values that cannot be
    /// right (not finite, out of range, over the callout limits) are dropped or capped, never trusted.
    public mutating func restore(
        _ saved: [TrackerSnapshot.Meter],
        monotonicNow: Double,
        maxDynamicMeters: Int,
        keepDynamic: (MeterKey) -> Bool
    ) -> RestoreSummary {
        var summary = RestoreSummary()
        var dynamicCount = meters.values.count { !$0.isConfigured }
        var seen = Set<MeterKey>()
        for entry in saved {
            let key = MeterKey(meterId: entry.meterId, version: entry.version)
            guard seen.insert(key).inserted, entry.version.utf8.count <= CalloutBody.Limits.version else {
                summary.dropped += 1
                continue
            }
            var state: MeterState
            if let current = meters[key], current.isConfigured {
                state = current
            } else if meters[key] == nil, !entry.isConfigured, dynamicCount < maxDynamicMeters, keepDynamic(key) {
                state = newMeter(configuredName: nil, isConfigured: false)
                dynamicCount += 1
            } else {
                summary.dropped += 1
                continue
            }
            Self.apply(entry, to: &state, monotonicNow: monotonicNow)
            state.records = entry.records.map { $0.restored(within: recordSettings) } ?? MeterRecords()
            meters[key] = state
            summary.restored += 1
            summary.changes.updated.insert(key)
        }
        return summary
    }

    private static func apply(_ entry: TrackerSnapshot.Meter, to state: inout MeterState, monotonicNow: Double) {
        let time = TrackerSnapshot.restoredTime
        state.reportedName = entry.reportedName.map { Excerpt.of($0, limit: CalloutBody.Limits.meterName) }
        state.status = entry.status.map(RunStatus.init(code:))
        state.statusSince = state.status == nil ? nil : time(entry.statusSince)
        state.transitions = [:]
        for item in entry.transitions.prefix(1_000) {
            // Names are the documented ones or UNKNOWN: anything else would be a label nobody can match.
            let names = RunStatus.knownNames + [RunStatus.unknownName]
            guard names.contains(item.from), names.contains(item.to) else { continue }
            let transition = Transition(from: item.from, to: item.to)
            state.transitions[transition] = (state.transitions[transition] ?? 0) &+ item.count
        }
        state.failures = entry.failures
        state.lastPollSucceeded = entry.lastPollSucceeded
        state.lastPollAt = time(entry.lastPollAt)
        state.lastPollSuccessAt = time(entry.lastPollSuccessAt)
        state.pollErrors = [:]
        for (name, count) in entry.pollErrors {
            if let reason = PollErrorReason(rawValue: name) { state.pollErrors[reason] = count }
        }
        state.lastError = entry.lastError.map { Excerpt.of($0, limit: 300) }
        state.lastSessionDuration = [:]
        for (runType, duration) in entry.lastSessionDuration.prefix(16)
        where duration.isFinite && duration >= 0 && runType.utf8.count <= 64 {
            state.lastSessionDuration[runType] = duration
        }
        state.recentEdges = entry.recentEdges.suffix(edgeMemory).compactMap { edge in
            guard edge.sessionId.utf8.count <= CalloutBody.Limits.sessionId, edge.from.utf8.count <= 64,
                edge.to.utf8.count <= 64
            else { return nil }
            return SessionEdge(sessionId: edge.sessionId, from: edge.from, to: edge.to)
        }
        if let ago = entry.lastCalloutSecondsAgo, ago.isFinite, ago >= 0 {
            state.lastCalloutAt = monotonicNow - ago
        } else {
            // A dynamic meter with no usable age counts as heard now: it expires one TTL from now.
            state.lastCalloutAt = state.isConfigured ? nil : monotonicNow
        }
    }
}
