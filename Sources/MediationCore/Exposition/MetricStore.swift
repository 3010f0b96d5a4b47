import Synchronization

/// Pre-rendered exposition bytes of every meter-version, after kube-state-metrics' metrics_store: each
/// meter-version keeps its rendered samples, re-rendered only when that meter changes. A scrape
/// concatenates cached bytes family by family (so each family stays one group, as the format requires).
///
/// The gzip-compressed body is cached in segments, one per family and group of `groupSize` meter-versions,
/// and only the segments whose lines changed are compressed again: a poll changes a few lines in one
/// group, so a scrape under constant polling recompresses a few small segments, not the body. A plain
/// scrape is written straight from the rendered samples (`plainBody`), with no cache: Prometheus asks for
/// gzip, and a plain copy would double the memory of a large fleet. Compression happens outside the lock
/// that polls update through, one scrape at a time: scrapes that arrive meanwhile wait and then find
/// nearly everything compressed. A scrape never gets data older than at its arrival.
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

    /// A family's compressed lines for one group of meter-versions, and the change it includes.
    private struct CachedSegment: Sendable {
        var segment: Gzip.Segment
        var builtAt: UInt64
    }

    /// Meter-versions per compressed group: small enough that a few changed meters cost little to
    /// recompress, large enough that compression stays good.
    static let groupSize = 64

    private struct State {
        var entries: [MeterKey: Rendered] = [:]
        /// The keys in exposition order and each key's group; nil after a meter was added or removed.
        var layout: (keys: [MeterKey], groupOf: [MeterKey: Int])?
        /// Bumped when the layout is rebuilt, which drops every cached segment.
        var layoutVersion: UInt64 = 0
        /// Per family, per group: the cached segment, and the change that last touched the group.
        var segments: [[CachedSegment?]]
        var lastChange: [[UInt64]]
        /// Per family: its header and groups as one segment (a scrape then combines ten CRCs, not
        /// thousands), and the change that last touched the family.
        var joined: [CachedSegment?]
        var familyLastChange: [UInt64]
        /// Bumped with every change.
        var generation: UInt64 = 1

        init(familyCount: Int) {
            segments = Array(repeating: [], count: familyCount)
            lastChange = Array(repeating: [], count: familyCount)
            joined = Array(repeating: nil, count: familyCount)
            familyLastChange = Array(repeating: 0, count: familyCount)
        }
    }

    private let families: [MeterFamily]
    private let headers: [[UInt8]]
    private let headerSegments: [Gzip.Segment]
    private let state: Mutex<State>
    private let gzipRebuild = Mutex(())

    public init(families: [MeterFamily] = MeterFamily.all) {
        self.families = families
        self.headers = families.map(\.header)
        self.headerSegments = headers.map { Gzip.segment($0, final: false) }
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
            if old == nil { state.layout = nil }
            for index in families.indices where old.map({ $0.family(index) != rendered.family(index) }) ?? true {
                Self.invalidate(index, key, &state)
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
                    Self.invalidate(index, key, &state)
                }
            }
            state.entries[key] = rendered
            return true
        }
    }

    public func remove(_ key: MeterKey) {
        state.withLock { state in
            guard state.entries.removeValue(forKey: key) != nil else { return }
            state.layout = nil
            state.generation &+= 1
        }
    }

    public var count: Int { state.withLock { $0.entries.count } }

    /// The per-meter part as one array (tests and fuzzing; scrapes use `plainBody` and `bodySegments`).
    public func body() -> [UInt8] { plainBody(trailer: []).readAll() }

    /// The per-meter part as non-final gzip segments: each family's header, then its lines group by group.
    /// Only the groups that changed since they were last compressed are compressed again.
    public func bodySegments() -> [Gzip.Segment] {
        gzipRebuild.withLock { _ in
            let (fresh, stale, entries, keys, snapshot, layoutVersion, segments) = state.withLock { state in
                let keys = Self.layout(&state).keys
                var fresh: [Gzip.Segment?] = Array(repeating: nil, count: families.count)
                var stale: [(family: Int, group: Int)] = []
                for family in families.indices {
                    if let joined = state.joined[family], state.familyLastChange[family] <= joined.builtAt {
                        fresh[family] = joined.segment
                        continue
                    }
                    for group in state.segments[family].indices {
                        let cached = state.segments[family][group]
                        if cached == nil || state.lastChange[family][group] > cached!.builtAt {
                            stale.append((family, group))
                        }
                    }
                }
                // The entries are copied out by reference (copy-on-write): polls are not held up.
                return (
                    fresh, stale, stale.isEmpty ? [:] : state.entries, keys, state.generation, state.layoutVersion,
                    state.segments
                )
            }
            var current = segments
            for (family, group) in stale {
                let builder = Gzip.SegmentBuilder()
                let members = keys[(group * Self.groupSize)..<min((group + 1) * Self.groupSize, keys.count)]
                for key in members { builder.append(entries[key]!.family(family)) }
                current[family][group] = CachedSegment(segment: builder.finish(), builtAt: snapshot)
            }
            var joined = fresh
            for family in families.indices where fresh[family] == nil {
                joined[family] = Gzip.concatenate([headerSegments[family]] + current[family].map { $0!.segment })
            }
            state.withLock { state in
                guard state.layoutVersion == layoutVersion else { return }
                for (family, group) in stale where (state.segments[family][group]?.builtAt ?? 0) <= snapshot {
                    state.segments[family][group] = current[family][group]
                }
                for family in families.indices where fresh[family] == nil {
                    if (state.joined[family]?.builtAt ?? 0) <= snapshot {
                        state.joined[family] = CachedSegment(segment: joined[family]!, builtAt: snapshot)
                    }
                }
            }
            return joined.map { $0! }
        }
    }

    /// The keys in exposition order and their groups, rebuilt after meters were added or removed.
    private static func layout(_ state: inout State) -> (keys: [MeterKey], groupOf: [MeterKey: Int]) {
        if let layout = state.layout { return layout }
        let keys = state.entries.keys.sorted()
        var groupOf: [MeterKey: Int] = [:]
        groupOf.reserveCapacity(keys.count)
        for (position, key) in keys.enumerated() { groupOf[key] = position / groupSize }
        let groups = (keys.count + groupSize - 1) / groupSize
        state.layout = (keys, groupOf)
        state.layoutVersion &+= 1
        state.segments = state.segments.map { _ in Array(repeating: nil, count: groups) }
        state.lastChange = state.lastChange.map { _ in Array(repeating: 0, count: groups) }
        state.joined = state.joined.map { _ in nil }
        return (keys, groupOf)
    }

    /// Marks the group of `key` in family `index` out of date. Its cache stays until replaced.
    private static func invalidate(_ index: Int, _ key: MeterKey, _ state: inout State) {
        state.generation &+= 1
        // Without a layout every segment is rebuilt anyway.
        state.familyLastChange[index] = state.generation
        if let group = state.layout?.groupOf[key] { state.lastChange[index][group] = state.generation }
    }
}

extension MetricStore {
    /// The per-meter part of /metrics followed by `trailer`, written while it is sent: family by family,
    /// straight from the rendered samples, so that a plain scrape costs neither a copy of the whole body
    /// nor a cache of it. The samples are those at the call (a copy-on-write snapshot).
    public func plainBody(trailer: [UInt8]) -> some BodySource {
        let (entries, keys) = state.withLock { state in (state.entries, Self.layout(&state).keys) }
        // In key order once, rather than a dictionary lookup per family and meter while sending.
        return PlainBody(meters: keys.map { entries[$0]! }, headers: headers, trailer: trailer)
    }
}

/// The pieces of a plain body in order: each family's header, then every meter's lines for it.
private final class PlainBody: BodySource {
    private let meters: [MetricStore.Rendered]
    private let headers: [[UInt8]]
    private let trailer: [UInt8]
    let count: Int
    /// Where the next read continues: libmicrohttpd reads a body front to back.
    private let cursor = Mutex(Cursor())

    private struct Cursor {
        var position = 0
        var family = 0
        /// -1: the family's header; then an index into `meters`.
        var meter = -1
        var offset = 0
    }

    init(meters: [MetricStore.Rendered], headers: [[UInt8]], trailer: [UInt8]) {
        self.meters = meters
        self.headers = headers
        self.trailer = trailer
        count = headers.reduce(0) { $0 + $1.count } + meters.reduce(0) { $0 + $1.bytes.count } + trailer.count
    }

    /// The piece at the cursor, or nil past the end.
    private func piece(_ cursor: Cursor) -> ArraySlice<UInt8>? {
        if cursor.family == headers.count { return trailer[...] }
        if cursor.family > headers.count { return nil }
        if cursor.meter < 0 { return headers[cursor.family][...] }
        return meters[cursor.meter].family(cursor.family)
    }

    private func advance(_ cursor: inout Cursor) {
        cursor.offset = 0
        cursor.meter += 1
        if cursor.family >= headers.count || cursor.meter == meters.count {
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
