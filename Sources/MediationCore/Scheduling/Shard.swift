import Synchronization

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

    /// The shard that owns `key` (where a callout for it is forwarded).
    public func owner(of key: MeterKey) -> Int { total <= 1 ? 0 : Int(StableHash.of(key) % UInt64(total)) }
}
