// Fuzz target: the webhook callout body parser CalloutBody.parse(_:) and ISO8601.seconds(_:); an accepted
// callout is then applied to a StatusHub and the rendered /metrics part is checked line by line.
import FuzzSupport
import MediationCore

let familyNames = Set(MeterFamily.all.map(\.name))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = fuzzBytes(data, size)
    if let seconds = ISO8601.seconds(String(decoding: input, as: UTF8.self)), !seconds.isFinite {
        violated("ISO8601.seconds gave \(seconds)", input: input)
    }
    guard case .success(let event) = CalloutBody.parse(input) else { return 0 }
    if event.key.meterId <= 0 { violated("accepted meterId \(event.key.meterId)", input: input) }
    if event.key.version.isEmpty { violated("accepted an empty version", input: input) }
    if event.sessionId.isEmpty { violated("accepted an empty sessionId", input: input) }
    if event.runType != "NORMAL" && event.runType != "DEBUG" {
        violated("accepted runType \(event.runType)", input: input)
    }
    if !event.status.isKnown { violated("accepted an undocumented status", input: input) }
    if let duration = event.sessionDuration, !(duration >= 0 && duration.isFinite) {
        violated("session duration \(duration)", input: input)
    }
    // The same callout twice (a retry), against a configured meter and as a dynamic one.
    let hub = StatusHub()
    hub.configure([MeterSpec(key: MeterKey(meterId: 101, version: "0.0.1"), name: "Usage ingestion")])
    let (_, first) = hub.record(event, maxDynamicMeters: 1)
    let (_, second) = hub.record(event, maxDynamicMeters: 1)
    if first == .accepted, second != .stale { violated("a retried callout was \(second), not stale", input: input) }
    if case .failure(let problem) = checkBody(hub.store.body(), names: familyNames) {
        violated("rendered body: \(problem)", input: input)
    }
    return 0
}
