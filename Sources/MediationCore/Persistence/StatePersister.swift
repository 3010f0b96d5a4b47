public import Logging
import Synchronization

/// Keeps the tracker's state and the callout window in `--storage.path`: restores them at start-up
/// (before the first poll), saves them when they changed (every `interval` seconds) and on shutdown.
public final class StatePersister: Sendable {
    public let store: StateStore
    private let hub: StatusHub
    private let calloutMemory: CalloutMemory
    private let logger: Logger
    /// What the last save saw: the hub's revision and the newest notification id and their count.
    private let saved = Mutex<(revision: Int, lastId: String?, ids: Int)?>(nil)

    public static let interval: Double = 10

    public init(store: StateStore, hub: StatusHub, calloutMemory: CalloutMemory, logger: Logger) {
        self.store = store
        self.hub = hub
        self.calloutMemory = calloutMemory
        self.logger = logger
    }

    /// Restores what the state file holds; a missing file is a first start, a bad one a warning.
    @discardableResult
    public func restore(maxDynamicMeters: Int, keepDynamic: (MeterKey) -> Bool) -> StatusTracker.RestoreSummary? {
        switch store.load() {
        case .missing:
            logger.info("no saved state; starting fresh", metadata: ["path": "\(store.path)"])
            return nil
        case .unusable(let problem):
            logger.warning(
                "ignoring the saved state; starting fresh",
                metadata: ["path": "\(store.path)", "error": "\(problem)"]
            )
            return nil
        case .loaded(let snapshot):
            let summary = hub.restore(snapshot.meters, maxDynamicMeters: maxDynamicMeters, keepDynamic: keepDynamic)
            calloutMemory.restore(notificationIds: snapshot.notificationIds)
            logger.info(
                "restored saved state",
                metadata: [
                    "path": "\(store.path)", "meters": "\(summary.restored)", "dropped": "\(summary.dropped)",
                    "notification_ids": "\(snapshot.notificationIds.count)",
                ]
            )
            return summary
        }
    }

    /// Saves when the state changed since the last save (or always, with `force`). Failures are logged;
    /// the next attempt tries again.
    public func save(force: Bool = false) {
        let revision = hub.revision
        let ids = calloutMemory.notificationIds()
        let mark = (revision: revision, lastId: ids.last, ids: ids.count)
        if !force, let last = saved.withLock({ $0 }), last == mark { return }
        let (savedAt, meters) = hub.persistentSnapshot()
        do {
            try store.save(TrackerSnapshot(savedAt: savedAt, meters: meters, notificationIds: ids))
            saved.withLock { $0 = mark }
        } catch {
            logger.warning("cannot save state", metadata: ["path": "\(store.path)", "error": "\(error)"])
        }
    }
}
