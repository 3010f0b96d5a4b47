/// The hub's side of record counts: periodic snapshots in, summaries out to the scheduler and back.
extension StatusHub {
    /// Applies a periodic snapshot; returns what became of it and what it changed.
    public func record(_ event: PeriodicEvent, maxDynamicMeters: Int) -> (TrackerChanges, EventOutcome) {
        recordCallout { tracker, at, heardAt in
            tracker.record(event, at: at, heardAt: heardAt, maxDynamicMeters: maxDynamicMeters)
        }
    }

    /// Takes the `summary:` section (start-up and reload).
    @discardableResult
    public func configureRecords(_ settings: SummaryConfig) -> TrackerChanges {
        apply { $0.configureRecords(settings) }
    }

    /// The next summary to ask for (marked in flight), or how long to wait.
    public func nextSummary() -> SummaryQueue.Next {
        let now = clock.now()
        var next = SummaryQueue.Next.idle
        apply { tracker in
            next = tracker.nextSummary(now: now)
            return TrackerChanges()
        }
        return next
    }

    /// Reports the attempt at `entry`'s summary; a summary received is rendered at once.
    @discardableResult
    public func finishSummary(_ entry: SummaryQueue.Entry, _ result: SummaryFetchResult) -> SummaryQueue.Finish? {
        var result = result
        if case .summary(let summary) = result {
            // Bounded before taking the lock that polls and callouts wait on (the tracker bounds it again
            // should the limits change in between: a no-op otherwise).
            let limits = recordSettings
            result = .summary(summary.bounded(maxOperators: limits.maxOperators, maxErrorCodes: limits.maxErrorCodes))
        }
        let (now, takenAt) = (clock.now(), wallClock.now())
        var finish: SummaryQueue.Finish?
        apply { tracker in
            let (changes, outcome) = tracker.finishSummary(entry, result, now: now, takenAt: takenAt)
            finish = outcome
            return changes
        }
        return finish
    }

    /// The attempt in flight was cancelled (shutdown); the run stays queued.
    public func abandonSummary(_ id: UInt64) {
        apply { tracker in
            tracker.abandonSummary(id)
            return TrackerChanges()
        }
    }
}
