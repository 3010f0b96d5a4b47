// Fuzz target: the state file of --storage.path. StateStore.decode(_:) on any bytes, then a restore into a
// configured StatusHub (configured and dynamic meters), a snapshot that must encode and decode back, and
// the rendered /metrics part checked line by line.
import FuzzSupport
import MediationCore

let familyNames = Set(MeterFamily.all.map(\.name))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = fuzzBytes(data, size)
    guard case .loaded(let snapshot) = StateStore.decode(input) else { return 0 }
    let hub = StatusHub()
    hub.configure([
        MeterSpec(key: MeterKey(meterId: 1, version: "0.0.1"), name: "one"),
        MeterSpec(key: MeterKey(meterId: 101, version: "0.0.1"), name: nil),
    ])
    hub.restore(snapshot.meters, maxDynamicMeters: 2) { _ in true }
    let memory = CalloutMemory(capacity: 8)
    memory.restore(notificationIds: snapshot.notificationIds)
    if memory.notificationIds().count > 8 { violated("the callout window grew past its capacity", input: input) }
    if hub.snapshot().values.count(where: { !$0.isConfigured }) > 2 {
        violated("more dynamic meters than allowed", input: input)
    }
    let again = TrackerSnapshot(savedAt: 0, meters: hub.persistentSnapshot().meters, notificationIds: [])
    guard let bytes = try? StateStore.encode(again), case .loaded(let decoded) = StateStore.decode(bytes),
        decoded == again
    else {
        violated("a restored state does not round-trip", input: input)
    }
    if case .failure(let problem) = checkBody(hub.store.body(), names: familyNames) {
        violated("rendered body: \(problem)", input: input)
    }
    return 0
}
