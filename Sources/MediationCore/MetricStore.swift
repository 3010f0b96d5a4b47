import Synchronization

/// Pre-rendered exposition bytes of every meter-version, after kube-state-metrics' metrics_store: each
/// meter-version keeps one rendered chunk per family, re-rendered only when that meter changes. A scrape
/// concatenates cached chunks family by family (so each family stays one group, as the format requires)
/// and the result, plain and gzip-compressed, is cached until the next change.
public final class MetricStore: Sendable {
    private struct State {
        var entries: [MeterKey: [[UInt8]]] = [:]
        var sortedKeys: [MeterKey]? = []
        var body: [UInt8]?
        var bodySegment: Gzip.Segment?
        var generation: UInt64 = 0
    }

    private let families: [MeterFamily]
    private let headers: [[UInt8]]
    private let state = Mutex(State())

    public init(families: [MeterFamily] = MeterFamily.all) {
        self.families = families
        self.headers = families.map(\.header)
    }

    /// Renders one meter-version's chunks. Pure; callers do it outside any lock.
    public func render(_ key: MeterKey, _ meter: MeterState) -> [[UInt8]] {
        families.map { family in
            var out = [UInt8]()
            family.render(key, meter, &out)
            return out
        }
    }

    /// Stores one meter-version's rendered chunks.
    public func update(_ key: MeterKey, chunks: [[UInt8]]) {
        state.withLock { state in
            if state.entries[key] == nil { state.sortedKeys = nil }
            state.entries[key] = chunks
            Self.invalidate(&state)
        }
    }

    public func remove(_ key: MeterKey) {
        state.withLock { state in
            guard state.entries.removeValue(forKey: key) != nil else { return }
            state.sortedKeys = nil
            Self.invalidate(&state)
        }
    }

    /// Bumps with every change; lets readers tell whether their copy is current.
    public var generation: UInt64 { state.withLock { $0.generation } }

    public var count: Int { state.withLock { $0.entries.count } }

    /// The per-meter part of /metrics: every family's header followed by every meter's chunk for it.
    public func body() -> [UInt8] {
        state.withLock { state in
            if let body = state.body { return body }
            let body = assemble(&state)
            state.body = body
            return body
        }
    }

    /// The per-meter part as a non-final gzip segment, compressed once per change.
    public func bodySegment() -> Gzip.Segment {
        if let segment = state.withLock({ $0.bodySegment }) { return segment }
        let (body, generation) = state.withLock { ($0.body ?? assemble(&$0), $0.generation) }
        // Compression runs outside the lock so that plain scrapes are not held up by it.
        let segment = Gzip.segment(body, final: false)
        state.withLock { state in
            if state.generation == generation {
                state.body = body
                state.bodySegment = segment
            }
        }
        return segment
    }

    private func assemble(_ state: inout State) -> [UInt8] {
        let keys: [MeterKey]
        if let sorted = state.sortedKeys {
            keys = sorted
        } else {
            keys = state.entries.keys.sorted()
            state.sortedKeys = keys
        }
        var size = headers.reduce(0) { $0 + $1.count }
        for chunks in state.entries.values { size += chunks.reduce(0) { $0 + $1.count } }
        var out = [UInt8]()
        out.reserveCapacity(size)
        for (index, header) in headers.enumerated() {
            out.append(contentsOf: header)
            for key in keys { out.append(contentsOf: state.entries[key]![index]) }
        }
        return out
    }

    private static func invalidate(_ state: inout State) {
        state.body = nil
        state.bodySegment = nil
        state.generation &+= 1
    }
}
