public import Logging
import Synchronization

/// How the poller paces itself; replaced as a whole on reload.
public struct PollSettings: Sendable, Equatable {
    public var interval: Double
    public var maxConcurrency: Int

    public init(interval: Double, maxConcurrency: Int) {
        self.interval = interval
        self.maxConcurrency = maxConcurrency
    }
}

/// Polls every configured meter-version once per cycle. Polls are spread evenly over the interval (each
/// meter-version keeps its place in the cycle, by a stable hash) rather than fired in one burst, and at
/// most `maxConcurrency` run at once. Results go to the hub; nothing else is written.
public final class Poller: Sendable {
    private let hub: StatusHub
    private let fetcher: any RunStatusFetching
    private let metrics: ExporterMetrics
    private let logger: Logger
    private let settings: Mutex<PollSettings>
    private let cyclesDone = Atomic<Int>(0)

    public init(
        hub: StatusHub,
        fetcher: any RunStatusFetching,
        settings: PollSettings,
        metrics: ExporterMetrics,
        logger: Logger
    ) {
        self.hub = hub
        self.fetcher = fetcher
        self.settings = Mutex(settings)
        self.metrics = metrics
        self.logger = logger
    }

    /// True once a full poll cycle has finished: what /-/ready reports.
    public var isReady: Bool { cyclesDone.load(ordering: .relaxed) > 0 }

    public func update(_ new: PollSettings) { settings.withLock { $0 = new } }

    /// Runs cycles until the task is cancelled.
    public func run() async {
        let clock = ContinuousClock()
        while !Task.isCancelled {
            let start = clock.now
            let settings = self.settings.withLock { $0 }
            await runCycle(settings: settings, start: start, clock: clock)
            guard !Task.isCancelled else { return }
            metrics.setPollCycleDuration(Double((clock.now - start) / .milliseconds(1)) / 1000)
            cyclesDone.add(1, ordering: .relaxed)
            let next = start + .milliseconds(Int64(settings.interval * 1000))
            if clock.now < next { try? await Task.sleep(until: next, clock: clock) }
        }
    }

    private func runCycle(settings: PollSettings, start: ContinuousClock.Instant, clock: ContinuousClock) async {
        let keys = hub.configuredKeys().map { (StableHash.of($0), $0) }.sorted { $0.0 < $1.0 }.map(\.1)
        guard !keys.isEmpty else { return }
        let spacing = Duration.milliseconds(Int64(settings.interval * 1000)) / keys.count
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for (index, key) in keys.enumerated() {
                let due = start + spacing * index
                if clock.now < due { try? await Task.sleep(until: due, clock: clock) }
                if Task.isCancelled { break }
                if running >= settings.maxConcurrency {
                    await group.next()
                    running -= 1
                }
                running += 1
                group.addTask { await self.poll(key) }
            }
            await group.waitForAll()
        }
    }

    /// Polls one meter-version and reports the outcome.
    public func poll(_ key: MeterKey) async {
        let result = await fetcher.fetchRunStatus(key)
        let changes = hub.record(PollOutcome(key: key, result: result, at: Clock.now()))
        for (key, transition) in changes.transitions {
            logger.info(
                "meter run status changed",
                metadata: [
                    "meter_id": "\(key.meterId)", "version": "\(key.version)", "from": "\(transition.from)",
                    "to": "\(transition.to)",
                ]
            )
        }
        for (key, succeeded) in changes.pollHealth {
            var metadata: Logger.Metadata = ["meter_id": "\(key.meterId)", "version": "\(key.version)"]
            if succeeded {
                logger.info("polls of meter succeed again", metadata: metadata)
            } else if case .failure(let reason, let message) = result {
                metadata["reason"] = "\(reason.rawValue)"
                metadata["error"] = "\(message)"
                logger.warning("poll of meter failed", metadata: metadata)
            }
        }
        if case .failure(let reason, let message) = result, changes.pollHealth.isEmpty {
            logger.debug(
                "poll of meter failed again",
                metadata: ["meter_id": "\(key.meterId)", "reason": "\(reason.rawValue)", "error": "\(message)"]
            )
        }
    }
}

/// A hash that stays the same across runs and machines (Swift's `Hasher` is seeded per process):
/// FNV-1a over the meter id and version. Orders polls within a cycle and assigns shards.
public enum StableHash {
    public static func of(_ key: MeterKey) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(key.meterId)/\(key.version)".utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }
}

/// kube-state-metrics' sharding convention: replica `shard` of `total` owns the meter-versions whose
/// stable hash modulo `total` is `shard`, so replicas together cover every meter-version exactly once.
public struct Shard: Sendable, Equatable {
    public let index: Int
    public let total: Int

    public static let whole = Shard(index: 0, total: 1)

    public init(index: Int, total: Int) {
        self.index = index
        self.total = total
    }

    /// Nil when the pair is usable, else what is wrong with it.
    public var problem: String? {
        guard total >= 1 else { return "--total-shards must be at least 1" }
        guard (0..<total).contains(index) else { return "--shard must be between 0 and \(total - 1)" }
        return nil
    }

    public func owns(_ key: MeterKey) -> Bool { total <= 1 || StableHash.of(key) % UInt64(total) == UInt64(index) }
}
