import Foundation
import Logging
import Synchronization
import Testing

@testable import MediationCore

/// An in-memory `StateFiles`: what was written, and files a test plants.
final class MemoryStateFiles: StateFiles {
    let files = Mutex<[String: [UInt8]]>([:])
    let failWrites = Atomic<Bool>(false)

    func read(_ path: String, limit: Int) throws -> [UInt8]? {
        guard let bytes = files.withLock({ $0[path] }) else { return nil }
        guard bytes.count <= limit else { throw StateFileError("over \(limit) bytes") }
        return bytes
    }

    func replace(_ path: String, with bytes: [UInt8]) throws {
        if failWrites.load(ordering: .relaxed) { throw StateFileError("disk full") }
        files.withLock { $0[path] = bytes }
    }
}

/// `--storage.path`: the snapshot round trip, restoring into a new configuration, the callout window,
/// and files that are not what they should be (never a trap, always a fresh start).
struct StateStoreTests {
    static let quiet = Logger(label: "state-tests") { _ in SwiftLogNoOpLogHandler() }

    /// A tracker with every field set: statuses, transitions, failures, poll errors, callout edges,
    /// session durations, a dynamic meter.
    func busyTracker() -> StatusTracker {
        var tracker = StatusTracker()
        _ = tracker.configure([spec(101, name: "Usage"), spec(102)])
        _ = tracker.record(ok(key(101), 5, at: 1_000))
        _ = tracker.record(ok(key(101), 8, at: 1_060))
        _ = tracker.record(failed(key(101), .serverError, at: 1_070))
        _ = tracker.record(failed(key(101), .timeout, at: 1_080))
        _ = tracker.record(ok(key(102), 5, at: 1_000))
        let event = StatusEvent(
            key: key(102),
            meterName: "pushed",
            sessionId: "s9",
            runType: "NORMAL",
            status: RunStatus(code: 7),
            previousStatus: RunStatus(code: 5),
            sessionDuration: 42
        )
        _ = tracker.record(event, at: 1_100, heardAt: 500, maxDynamicMeters: 10)
        let dynamic = StatusEvent(
            key: key(900),
            meterName: "dyn",
            sessionId: "d1",
            runType: "NORMAL",
            status: RunStatus(code: 5),
            previousStatus: nil,
            sessionDuration: nil
        )
        _ = tracker.record(dynamic, at: 1_110, heardAt: 510, maxDynamicMeters: 10)
        return tracker
    }

    @Test func aSnapshotRoundTripsEveryField() throws {
        let tracker = busyTracker()
        let saved = TrackerSnapshot(
            savedAt: 2_000,
            meters: tracker.snapshot(monotonicNow: 600),
            notificationIds: ["a", "b"]
        )
        let bytes = try StateStore.encode(saved)
        guard case .loaded(let decoded) = StateStore.decode(bytes) else {
            Issue.record("not decoded")
            return
        }
        #expect(decoded == saved)
        #expect(decoded.version == TrackerSnapshot.currentVersion)

        // A new process: its monotonic clock reads something else entirely.
        var restored = StatusTracker()
        _ = restored.configure([spec(101, name: "Usage"), spec(102)])
        let summary = restored.restore(decoded.meters, monotonicNow: 50, maxDynamicMeters: 10) { _ in true }
        #expect(summary.restored == 3)
        #expect(summary.dropped == 0)
        for key in [key(101), key(102), key(900)] {
            var expected = try #require(tracker.meters[key])
            let actual = try #require(restored.meters[key])
            // The monotonic time moves with the clock: the same age before "now".
            #expect(actual.lastCalloutAt.map { 50 - $0 } == expected.lastCalloutAt.map { 600 - $0 })
            expected.lastCalloutAt = actual.lastCalloutAt
            // It guards against this process's polls in flight: a new process has none, it starts unset.
            #expect(actual.statusCalloutAt == nil)
            expected.statusCalloutAt = nil
            #expect(actual == expected, "\(key)")
        }
        #expect(restored.meters[key(101)]?.failures == 1)
        #expect(restored.meters[key(101)]?.pollErrors == [.serverError: 1, .timeout: 1])
        #expect(restored.meters[key(101)]?.statusSince == 1_060)
    }

    @Test func aMeterNoLongerConfiguredIsDroppedAndANewOneStartsFresh() throws {
        let saved = busyTracker().snapshot(monotonicNow: 600)
        var tracker = StatusTracker()
        _ = tracker.configure([spec(102), spec(103)])
        let summary = tracker.restore(saved, monotonicNow: 50, maxDynamicMeters: 10) { _ in false }
        #expect(tracker.meters[key(101)] == nil, "removed from the configuration")
        #expect(tracker.meters[key(900)] == nil, "dynamic, but no receiver to keep it")
        #expect(tracker.meters[key(102)]?.status?.code == 7)
        #expect(tracker.meters[key(103)]?.status == nil)
        #expect(summary.restored == 1)
        #expect(summary.dropped == 2)
    }

    @Test func dynamicMetersComeBackWithinTheLimitAndExpireOnTime() throws {
        let saved = busyTracker().snapshot(monotonicNow: 600)  // heard 90 s before
        var tracker = StatusTracker()
        _ = tracker.configure([spec(101), spec(102)])
        _ = tracker.restore(saved, monotonicNow: 50, maxDynamicMeters: 10) { _ in true }
        let dynamic = try #require(tracker.meters[key(900)])
        #expect(!dynamic.isConfigured)
        #expect(dynamic.displayName == "dyn")
        #expect(dynamic.lastCalloutAt == -40)
        #expect(tracker.expireDynamicMeters(notHeardSince: -41).removed.isEmpty)
        #expect(tracker.expireDynamicMeters(notHeardSince: -39).removed == [key(900)])

        var full = StatusTracker()
        _ = full.restore(saved, monotonicNow: 50, maxDynamicMeters: 0) { _ in true }
        #expect(full.meters.isEmpty, "no room for dynamic meters")
    }

    @Test func theCalloutWindowSurvivesARestartSoARetryIsADuplicate() throws {
        let files = MemoryStateFiles()
        let store = StateStore(directory: "/state", files: files)
        let clock = ManualClock()
        let hub = StatusHub(clock: clock)
        hub.configure([spec(101)])
        let memory = CalloutMemory(capacity: 100, clock: clock)
        let setup = WebhookReceiverTests().setup(memory: memory, clock: clock)
        #expect(setup.receiver.respond(to: WebhookReceiverTests().callout(101, id: "n-1")).status == 200)
        let persister = StatePersister(store: store, hub: setup.hub, calloutMemory: memory, logger: Self.quiet)
        persister.save()
        #expect(files.files.withLock { $0["/state/state.json"] } != nil)

        // The restarted process: a new hub, a new memory, the same file.
        let restartedClock = ManualClock(now: 5)
        let restartedMemory = CalloutMemory(capacity: 100, clock: restartedClock)
        let restarted = WebhookReceiverTests().setup(memory: restartedMemory, clock: restartedClock)
        StatePersister(store: store, hub: restarted.hub, calloutMemory: restartedMemory, logger: Self.quiet)
            .restore(maxDynamicMeters: 100) { _ in true }
        let retry = restarted.receiver.respond(to: WebhookReceiverTests().callout(101, id: "n-1"))
        #expect(text(retry.body).contains("duplicate"))
        #expect(restarted.hub.state(of: key(101))?.status?.name == "RUNNING")
    }

    @Test func savesOnlyWhenSomethingChangedAndSurvivesAFailedWrite() throws {
        let files = MemoryStateFiles()
        let hub = StatusHub(clock: ManualClock())
        hub.configure([spec(101)])
        let memory = CalloutMemory(capacity: 10)
        let persister = StatePersister(
            store: StateStore(directory: "/s/", files: files),
            hub: hub,
            calloutMemory: memory,
            logger: Self.quiet
        )
        persister.save()
        files.files.withLock { $0["/s/state.json"] = Array("sentinel".utf8) }
        persister.save()
        #expect(files.files.withLock { $0["/s/state.json"] } == Array("sentinel".utf8), "nothing changed")
        hub.record(ok(key(101), 8, at: 10))
        files.failWrites.store(true, ordering: .relaxed)
        persister.save()
        files.failWrites.store(false, ordering: .relaxed)
        persister.save()
        guard case .loaded(let snapshot) = StateStore(directory: "/s", files: files).load() else {
            Issue.record("not saved after the failed write")
            return
        }
        #expect(snapshot.meters.first?.status == 8)
    }

    /// Built when its test runs, not when the suite is planned: the arguments of every test are evaluated
    /// before the first one starts.
    static let hostile: [(String, @Sendable () -> [UInt8])] = [
        ("empty", { [] }),
        ("truncated", { Array(#"{"version":1,"savedAt":1,"meters":[{"meterId":1,"#.utf8) }),
        ("not an object", { Array("[1,2,3]".utf8) }),
        ("another version", { Array(#"{"version":99,"savedAt":1,"meters":[],"notificationIds":[]}"#.utf8) }),
        ("version as text", { Array(#"{"version":"1","savedAt":1,"meters":[],"notificationIds":[]}"#.utf8) }),
        ("wrong types", { Array(#"{"version":1,"savedAt":"x","meters":{},"notificationIds":7}"#.utf8) }),
        ("huge version", { Array(#"{"version":1e400,"savedAt":1,"meters":[],"notificationIds":[]}"#.utf8) }),
        ("negative count", { Array(meterJSON(#""failures":-1"#).utf8) }),
        ("count over UInt64", { Array(meterJSON(#""failures":18446744073709551616"#).utf8) }),
        ("huge meter id", { Array(meterJSON(#""failures":1"#, meterId: "99999999999999999999999").utf8) }),
        ("non-UTF-8", { [0xFF, 0xFE, 0x7B, 0x22, 0xC3, 0x28, 0x80] }),
        ("NUL bytes", { [UInt8](repeating: 0, count: 1_000) }),
        ("10 MB of garbage", { garbage(count: 10_000_000) }),
        ("deep nesting", { [UInt8](repeating: 0x5B, count: 100_000) + [UInt8](repeating: 0x5D, count: 100_000) }),
    ]

    /// Pseudo-random bytes, a 4 KiB block over and over: byte by byte, 10 million take seconds in a
    /// sanitized debug build.
    static func garbage(count: Int) -> [UInt8] {
        let block = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count { bytes.append(contentsOf: block.prefix(count - bytes.count)) }
        return bytes
    }

    static func meterJSON(_ field: String, meterId: String = "1") -> String {
        #"{"version":1,"savedAt":1,"notificationIds":[],"meters":[{"meterId":\#(meterId),"version":"0.0.1","#
            + #""isConfigured":true,"transitions":[],"pollErrors":{},"lastSessionDuration":{},"recentEdges":[],"#
            + field + "}]}"
    }

    @Test(arguments: hostile.indices)
    func aHostileStateFileMeansAFreshStartNeverATrap(index: Int) throws {
        let (name, make) = Self.hostile[index]
        let bytes = make()
        let files = MemoryStateFiles()
        files.files.withLock { $0["/s/state.json"] = bytes }
        guard case .unusable = StateStore(directory: "/s", files: files).load() else {
            Issue.record("\(name) was accepted")
            return
        }
        let hub = StatusHub(clock: ManualClock())
        hub.configure([spec(1)])
        let persister = StatePersister(
            store: StateStore(directory: "/s", files: files),
            hub: hub,
            calloutMemory: CalloutMemory(capacity: 10),
            logger: Self.quiet
        )
        #expect(persister.restore(maxDynamicMeters: 10) { _ in true } == nil, "\(name)")
        #expect(hub.state(of: key(1))?.status == nil)
    }

    @Test func wellFormedButNonsensicalValuesAreDroppedOrCapped() throws {
        let meter = TrackerSnapshot.Meter(
            meterId: 1,
            version: "0.0.1",
            configuredName: "from the file",
            reportedName: String(repeating: "n", count: 10_000),
            isConfigured: true,
            status: -5,
            statusSince: -1,
            transitions: [
                .init(from: "RUNNING", to: "FAILED", count: .max), .init(from: "RUNNING", to: "FAILED", count: 2),
                .init(from: "<script>", to: "FAILED", count: 1),
            ],
            failures: .max,
            lastPollSucceeded: true,
            lastPollAt: 1e300,
            lastPollSuccessAt: -3,
            pollErrors: ["auth": 3, "bogus": 1],
            lastError: String(repeating: "e", count: 10_000),
            lastSessionDuration: ["NORMAL": -1, "DEBUG": 5],
            recentEdges: Array(repeating: .init(sessionId: "s", from: "A", to: "B"), count: 1_000),
            lastCalloutSecondsAgo: -7
        )
        var tracker = StatusTracker()
        _ = tracker.configure([spec(1, name: "config")])
        let duplicate = meter
        _ = tracker.restore([meter, duplicate], monotonicNow: 10, maxDynamicMeters: 10) { _ in true }
        let state = try #require(tracker.meters[key(1)])
        #expect(state.configuredName == "config", "the configuration's name wins")
        #expect(state.status?.name == "UNKNOWN")
        #expect(state.statusSince == nil)
        #expect(state.transitions == [Transition(from: "RUNNING", to: "FAILED"): 1], "wrapped, never trapped")
        #expect(state.failures == .max)
        #expect(state.lastPollSuccessAt == nil)
        #expect(state.pollErrors == [.auth: 3])
        #expect(state.lastError!.count <= 301)
        #expect(state.reportedName!.count <= CalloutBody.Limits.meterName + 1)
        #expect(state.lastSessionDuration == ["DEBUG": 5])
        #expect(state.recentEdges.count == StatusTracker.edgeMemory)
        #expect(state.lastCalloutAt == nil)
        // And it renders.
        let store = MetricStore()
        _ = store.render(key(1), state)
    }

    @Test func theDiskStoreWritesAtomicallyAndReadsBack() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = StateStore(directory: directory)
        guard case .missing = store.load() else {
            Issue.record("an empty directory has a state file")
            return
        }
        try store.save(TrackerSnapshot(savedAt: 1, meters: [], notificationIds: ["x"]))
        try store.save(TrackerSnapshot(savedAt: 2, meters: [], notificationIds: ["y"]))
        guard case .loaded(let snapshot) = store.load() else {
            Issue.record("not read back")
            return
        }
        #expect(snapshot.notificationIds == ["y"])
        #expect(!FileManager.default.fileExists(atPath: store.path + ".tmp"))
        let missingDirectory = StateStore(directory: directory + "/nope")
        #expect(throws: StateFileError.self) { try missingDirectory.save(snapshot) }
    }
}
