import Synchronization

/// Pre-rendered exposition bytes of every meter-version, after kube-state-metrics' metrics_store: each
/// meter-version keeps one rendered chunk per family, re-rendered only when that meter changes. A scrape
/// concatenates cached chunks family by family (so each family stays one group, as the format requires)
/// and the result, plain and gzip-compressed, is cached until the next change. Rebuilds happen outside
/// the lock that polls update through, one at a time: scrapes that arrive during a rebuild wait for it
/// and share its result, which is never older than the data at their arrival.
public final class MetricStore: Sendable {
    private struct State {
        var entries: [MeterKey: [[UInt8]]] = [:]
        var sortedKeys: [MeterKey]? = []
        var body: (bytes: [UInt8], generation: UInt64)?
        var bodySegment: (segment: Gzip.Segment, generation: UInt64)?
        var generation: UInt64 = 0
    }

    private let families: [MeterFamily]
    private let headers: [[UInt8]]
    private let state = Mutex(State())
    private let plainRebuild = Mutex(())
    private let gzipRebuild = Mutex(())

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
        let arrival = generation
        return plainRebuild.withLock { _ in
            if let cached = state.withLock({ $0.body }), cached.generation >= arrival { return cached.bytes }
            // The chunks are copied out by reference (copy-on-write), so polls are not held up by assembly.
            let (entries, keys, generation) = state.withLock { state in
                (state.entries, Self.sortedKeys(&state), state.generation)
            }
            let bytes = assemble(entries, keys)
            state.withLock { state in
                if (state.body?.generation ?? 0) <= generation { state.body = (bytes, generation) }
            }
            return bytes
        }
    }

    /// The per-meter part as a non-final gzip segment, compressed once per change.
    public func bodySegment() -> Gzip.Segment {
        let arrival = generation
        return gzipRebuild.withLock { _ in
            if let cached = state.withLock({ $0.bodySegment }), cached.generation >= arrival { return cached.segment }
            let built = state.withLock { $0.generation }
            let segment = Gzip.segment(body(), final: false)
            state.withLock { state in
                if (state.bodySegment?.generation ?? 0) <= built { state.bodySegment = (segment, built) }
            }
            return segment
        }
    }

    private static func sortedKeys(_ state: inout State) -> [MeterKey] {
        if let sorted = state.sortedKeys { return sorted }
        let keys = state.entries.keys.sorted()
        state.sortedKeys = keys
        return keys
    }

    private func assemble(_ entries: [MeterKey: [[UInt8]]], _ keys: [MeterKey]) -> [UInt8] {
        var size = headers.reduce(0) { $0 + $1.count }
        for chunks in entries.values { size += chunks.reduce(0) { $0 + $1.count } }
        var out = [UInt8]()
        out.reserveCapacity(size)
        for (index, header) in headers.enumerated() {
            out.append(contentsOf: header)
            for key in keys { out.append(contentsOf: entries[key]![index]) }
        }
        return out
    }

    /// Marks the cached bodies out of date; they stay until replaced, for scrapes already waiting.
    private static func invalidate(_ state: inout State) {
        state.generation &+= 1
    }
}
