// Fuzz target: MetricStore / StatusHub rendering of a meter whose version (and name, error message and
// callout fields) come from the input. Every line of the rendered body must start with a family's metric
// name (or be its # HELP / # TYPE line) and parse; the version label must read back unchanged.
// Input: version \0 name \0 reported meter name \0 run type \0 status bytes.
import FuzzSupport
import MediationCore

let familyNames = Set(MeterFamily.all.map(\.name))

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = fuzzBytes(data, size)
    let split = parts(input, 5)
    let version = String(decoding: split[0], as: UTF8.self)
    let name = String(decoding: split[1], as: UTF8.self)
    let reported = String(decoding: split[2], as: UTF8.self)
    let runType = String(decoding: split[3], as: UTF8.self)
    let codes = split[4].prefix(64).map { Int(Int8(bitPattern: $0)) }

    let hub = StatusHub()
    let key = MeterKey(meterId: 101, version: version)
    let other = MeterKey(meterId: 102, version: "0.0.1")
    hub.configure([MeterSpec(key: key, name: name.isEmpty ? nil : name), MeterSpec(key: other, name: nil)])
    // All polls in one apply, so that the meter is rendered once (rendering per poll is the same code,
    // many times over, and slow under ASan).
    hub.apply { tracker in
        var changes = TrackerChanges()
        var time = 1_700_000_000.0
        for (index, code) in ([1] + codes).enumerated() {
            time += 1.5
            let reason = PollErrorReason.allCases[index % PollErrorReason.allCases.count]
            let result: PollOutcome.Result =
                code % 7 == 0 ? .failure(reason, message: version) : .status(RunStatus(code: code))
            changes.updated.formUnion(tracker.record(PollOutcome(key: key, result: result, at: time)).updated)
        }
        return changes
    }
    let event = StatusEvent(
        key: MeterKey(meterId: 103, version: version),
        meterName: reported,
        sessionId: name,
        runType: runType,
        status: RunStatus(code: 8),
        previousStatus: RunStatus(code: 5),
        sessionDuration: Double(codes.count)
    )
    _ = hub.record(event, maxDynamicMeters: 10)

    let body = hub.store.body()
    switch checkBody(body, names: familyNames) {
    case .failure(let problem):
        violated("rendered body: \(problem)", input: input)
    case .success(let samples):
        for sample in samples {
            guard let id = sample.labels.first(where: { $0.name == "meter_id" })?.value,
                let versionLabel = sample.labels.first(where: { $0.name == "version" })?.value
            else { violated("\(sample.name) sample without meter_id and version", input: input) }
            if id == "101" || id == "103", versionLabel != version {
                violated("version label read back as \(versionLabel.debugDescription)", input: input)
            }
            if sample.name == "zuora_meter_info", id == "101", sample.labels.last?.value != name {
                violated("name label read back as \(sample.labels.last?.value.debugDescription ?? "nil")", input: input)
            }
        }
        if !samples.contains(where: { $0.name == "zuora_meter_poll_success" }) {
            violated("no zuora_meter_poll_success sample", input: input)
        }
    }
    // The gzip part is built from the same bytes; it must not trip over any of them.
    _ = hub.store.bodySegments()
    return 0
}
