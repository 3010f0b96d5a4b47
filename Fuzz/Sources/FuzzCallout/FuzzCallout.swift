// Fuzz target: the webhook callout body parsers CalloutBody.parse(_:) and PeriodicBody.parse(_:), and
// ISO8601.seconds(_:); an accepted callout is then applied to a StatusHub and the rendered /metrics part
// is checked line by line.
import FuzzSupport
import MediationCore

let familyNames = Set(MeterFamily.all.map(\.name))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = fuzzBytes(data, size)
    if let seconds = ISO8601.seconds(String(decoding: input, as: UTF8.self)), !seconds.isFinite {
        violated("ISO8601.seconds gave \(seconds)", input: input)
    }
    if case .success(let periodic) = PeriodicBody.parse(input) { checkPeriodic(periodic, input: input) }
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

/// An accepted periodic snapshot: bounded values, applied twice (a retry) and rendered cleanly.
func checkPeriodic(_ event: PeriodicEvent, input: [UInt8]) {
    if event.key.meterId <= 0 { violated("accepted meterId \(event.key.meterId)", input: input) }
    if event.sessionId.isEmpty { violated("accepted an empty sessionId", input: input) }
    if event.operatorId.isEmpty || event.operatorId.utf8.count > PeriodicBody.maxOperatorIdBytes {
        violated("operator id of \(event.operatorId.utf8.count) bytes", input: input)
    }
    let limit = RecordCount.maximum
    if event.counts.output > limit || event.counts.error > limit || event.counts.total > limit * 2 {
        violated("counts \(event.counts)", input: input)
    }
    let hub = StatusHub()
    hub.configure([MeterSpec(key: MeterKey(meterId: 101, version: "0.0.1"), name: "Usage ingestion")])
    hub.configureRecords(SummaryConfig(enabled: true, maxOperators: 1))
    _ = hub.record(event, maxDynamicMeters: 1)
    _ = hub.record(event, maxDynamicMeters: 1)
    if let running = hub.state(of: event.key)?.records.running, running.operators.count > 1 {
        violated("\(running.operators.count) operators kept with a limit of 1", input: input)
    }
    if case .failure(let problem) = checkBody(hub.store.body(), names: familyNames) {
        violated("rendered body after a periodic snapshot: \(problem)", input: input)
    }
}
