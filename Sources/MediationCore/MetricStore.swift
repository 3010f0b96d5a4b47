import Synchronization

/// Pre-rendered exposition bytes of every meter-version, after kube-state-metrics' metrics_store: each
/// meter-version keeps its rendered samples, re-rendered only when that meter changes. A scrape
/// concatenates cached bytes family by family (so each family stays one group, as the format requires).
///
/// The gzip-compressed body is cached per family, and only the families whose bytes changed are
/// recompressed: a steady poll changes one family (the last-success timestamp), so a scrape under
/// constant polling recompresses a tenth of the body, not all of it. A stale cache is dropped at once, to
/// keep memory flat. A plain scrape is written straight from the rendered samples (`plainBody`), with no
/// cache: Prometheus asks for gzip, and a plain copy would double the memory of a large fleet.
/// Rebuilds happen outside the lock that polls update through, one at a time: scrapes that arrive during
/// a rebuild wait for it and share its result, which is never older than the data at their arrival.
public final class MetricStore: Sendable {
    /// One meter-version's samples: every family's lines back to back (one allocation, not one per family).
    public struct Rendered: Sendable, Equatable {
        var bytes: [UInt8]
        /// Where each family's lines end in `bytes`.
        var ends: [Int32]

        func family(_ index: Int) -> ArraySlice<UInt8> {
            bytes[(index == 0 ? 0 : Int(ends[index - 1]))..<Int(ends[index])]
        }
    }

    private struct Cached<Value: Sendable>: Sendable {
        var value: Value
        var generation: UInt64
    }

    private struct State {
        var entries: [MeterKey: Rendered] = [:]
        var sortedKeys: [MeterKey]? = []
        /// Per family: bumped whenever a sample of that family changed.
        var generations: [UInt64]
        var segments: [Cached<Gzip.Segment>?]
        /// Bumped with every change.
        var generation: UInt64 = 0

        init(familyCount: Int) {
            generations = Array(repeating: 1, count: familyCount)
            segments = Array(repeating: nil, count: familyCount)
        }
    }

    private let families: [MeterFamily]
    private let headers: [[UInt8]]
    private let state: Mutex<State>
    private let gzipRebuild = Mutex(())

    public init(families: [MeterFamily] = MeterFamily.all) {
        self.families = families
        self.headers = families.map(\.header)
        self.state = Mutex(State(familyCount: families.count))
    }

    /// Renders one meter-version's samples. Pure; callers do it outside any lock.
    public func render(_ key: MeterKey, _ meter: MeterState) -> Rendered {
        var rendered = Rendered(bytes: [], ends: [])
        rendered.ends.reserveCapacity(families.count)
        let labels = MeterFamily.labels(of: key)
        for family in families {
            family.render(labels, meter, &rendered.bytes)
            rendered.ends.append(Int32(rendered.bytes.count))
        }
        return rendered
    }

    /// Stores one meter-version's samples; only the families whose bytes changed go stale.
    public func update(_ key: MeterKey, _ rendered: Rendered) {
        state.withLock { state in
            let old = state.entries.updateValue(rendered, forKey: key)
            if old == nil { state.sortedKeys = nil }
            for index in families.indices where old.map({ $0.family(index) != rendered.family(index) }) ?? true {
                Self.invalidate(index, &state)
            }
        }
    }

    /// Re-renders only the families that read poll health, keeping the rest of the meter's samples.
    /// False when the meter has no samples yet (render it whole instead).
    func updatePollHealth(_ key: MeterKey, _ meter: MeterState) -> Bool {
        state.withLock { state in
            guard let old = state.entries[key] else { return false }
            var rendered = Rendered(bytes: [], ends: [])
            rendered.bytes.reserveCapacity(old.bytes.count + 16)
            rendered.ends.reserveCapacity(families.count)
            let labels = MeterFamily.labels(of: key)
            for (index, family) in families.enumerated() {
                if family.readsOnlyPollHealth {
                    family.render(labels, meter, &rendered.bytes)
                } else {
                    rendered.bytes.append(contentsOf: old.family(index))
                }
                rendered.ends.append(Int32(rendered.bytes.count))
                if family.readsOnlyPollHealth, old.family(index) != rendered.family(index) {
                    Self.invalidate(index, &state)
                }
            }
            state.entries[key] = rendered
            return true
        }
    }

    public func remove(_ key: MeterKey) {
        state.withLock { state in
            guard let old = state.entries.removeValue(forKey: key) else { return }
            state.sortedKeys = nil
            for index in families.indices where !old.family(index).isEmpty { Self.invalidate(index, &state) }
        }
    }

    /// Bumps with every change; lets readers tell whether their copy is current.
    public var generation: UInt64 { state.withLock { $0.generation } }

    public var count: Int { state.withLock { $0.entries.count } }

    /// The per-meter part as one array (tests and fuzzing; scrapes use `plainBody` and `bodySegments`).
    public func body() -> [UInt8] {
        let source = plainBody(trailer: [])
        var bytes = [UInt8](repeating: 0, count: source.count)
        _ = bytes.withUnsafeMutableBytes { source.read(at: 0, into: $0) }
        return bytes
    }

    /// The per-meter part as non-final gzip segments, one per family, each compressed once per change.
    public func bodySegments() -> [Gzip.Segment] {
        let arrival = state.withLock { $0.generations }
        return gzipRebuild.withLock { _ in
            families.indices.map { index in
                cachedOrRebuilt(index, arrival: arrival[index], in: \.segments) { entries, keys in
                    let builder = Gzip.SegmentBuilder()
                    builder.append(headers[index])
                    for key in keys { builder.append(entries[key]!.family(index)) }
                    return builder.finish()
                }
            }
        }
    }

    /// The cached value of family `index` when it is at least as new as `arrival`, else a rebuilt one.
    /// The entries are copied out by reference (copy-on-write), so polls are not held up by the rebuild.
    private func cachedOrRebuilt<Value: Sendable>(
        _ index: Int,
        arrival: UInt64,
        in cache: WritableKeyPath<State, [Cached<Value>?]>,
        build: ([MeterKey: Rendered], [MeterKey]) -> Value
    ) -> Value {
        let (cached, entries, keys, generation) = state.withLock { state in
            if let cached = state[keyPath: cache][index], cached.generation >= arrival {
                return (Optional(cached.value), [MeterKey: Rendered](), [MeterKey](), UInt64(0))
            }
            return (nil, state.entries, Self.sortedKeys(&state), state.generations[index])
        }
        if let cached { return cached }
        let value = build(entries, keys)
        state.withLock { state in
            // Only when nothing changed meanwhile: a stale cache would just be dropped again.
            if state.generations[index] == generation {
                state[keyPath: cache][index] = Cached(value: value, generation: generation)
            }
        }
        return value
    }

    private static func sortedKeys(_ state: inout State) -> [MeterKey] {
        if let sorted = state.sortedKeys { return sorted }
        let keys = state.entries.keys.sorted()
        state.sortedKeys = keys
        return keys
    }

    /// Marks family `index` out of date and drops its caches (scrapes already holding them keep theirs).
    private static func invalidate(_ index: Int, _ state: inout State) {
        state.generations[index] &+= 1
        state.generation &+= 1
        state.segments[index] = nil
    }
}

extension MetricStore {
    /// The per-meter part of /metrics followed by `trailer`, written while it is sent: family by family,
    /// straight from the rendered samples, so that a plain scrape costs neither a copy of the whole body
    /// nor a cache of it. The samples are those at the call (a copy-on-write snapshot).
    public func plainBody(trailer: [UInt8]) -> some BodySource {
        let (entries, keys) = state.withLock { state in (state.entries, Self.sortedKeys(&state)) }
        return PlainBody(entries: entries, keys: keys, headers: headers, trailer: trailer)
    }
}

/// The pieces of a plain body in order: each family's header, then every meter's lines for it.
private final class PlainBody: BodySource {
    private let entries: [MeterKey: MetricStore.Rendered]
    private let keys: [MeterKey]
    private let headers: [[UInt8]]
    private let trailer: [UInt8]
    let count: Int
    /// Where the next read continues: libmicrohttpd reads a body front to back.
    private let cursor = Mutex(Cursor())

    private struct Cursor {
        var position = 0
        var family = 0
        /// -1: the family's header; then an index into `keys`.
        var meter = -1
        var offset = 0
    }

    init(entries: [MeterKey: MetricStore.Rendered], keys: [MeterKey], headers: [[UInt8]], trailer: [UInt8]) {
        self.entries = entries
        self.keys = keys
        self.headers = headers
        self.trailer = trailer
        count =
            headers.reduce(0) { $0 + $1.count } + entries.values.reduce(0) { $0 + $1.bytes.count } + trailer.count
    }

    /// The piece at the cursor, or nil past the end.
    private func piece(_ cursor: Cursor) -> ArraySlice<UInt8>? {
        if cursor.family == headers.count { return trailer[...] }
        if cursor.family > headers.count { return nil }
        if cursor.meter < 0 { return headers[cursor.family][...] }
        return entries[keys[cursor.meter]]!.family(cursor.family)
    }

    private func advance(_ cursor: inout Cursor) {
        cursor.offset = 0
        cursor.meter += 1
        if cursor.family >= headers.count || cursor.meter == keys.count {
            cursor.family += 1
            cursor.meter = -1
        }
    }

    func read(at position: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        cursor.withLock { cursor in
            // A read from elsewhere (never seen from libmicrohttpd) restarts and skips ahead.
            if position != cursor.position { cursor = Cursor() }
            var skip = position - cursor.position
            var written = 0
            while written < buffer.count, let piece = piece(cursor) {
                let available = piece.count - cursor.offset
                if skip > 0 {
                    let skipped = min(skip, available)
                    skip -= skipped
                    cursor.offset += skipped
                    cursor.position += skipped
                } else {
                    let count = min(available, buffer.count - written)
                    piece.withUnsafeBytes { bytes in
                        let source = UnsafeRawBufferPointer(rebasing: bytes[cursor.offset..<(cursor.offset + count)])
                        UnsafeMutableRawBufferPointer(rebasing: buffer[written..<(written + count)])
                            .copyMemory(from: source)
                    }
                    written += count
                    cursor.offset += count
                    cursor.position += count
                }
                if cursor.offset == piece.count { advance(&cursor) }
            }
            return written
        }
    }
}
