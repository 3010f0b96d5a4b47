// Fuzz target: ExporterConfig.parse(yaml:) on the input as UTF-8 (lossy), then what `--config.check`
// does with an accepted configuration (DurationText.format of the intervals, PollPlan.report).
import FuzzSupport
import MediationCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = fuzzBytes(data, size)
    let yaml = String(decoding: input, as: UTF8.self)
    let config: ExporterConfig
    do {
        config = try ExporterConfig.parse(yaml: yaml)
    } catch {
        // Every refusal must be describable (it is printed at start-up).
        _ = error.description
        return 0
    }
    // What validation promises.
    var seen = Set<MeterKey>()
    for meter in config.meters {
        if meter.key.meterId <= 0 { violated("accepted meter id \(meter.key.meterId)", input: input) }
        if meter.key.version.isEmpty { violated("accepted an empty version", input: input) }
        if !seen.insert(meter.key).inserted { violated("accepted a duplicate \(meter.key)", input: input) }
    }
    if !(1...256).contains(config.zuora.maxConcurrency) {
        violated("accepted max_concurrency \(config.zuora.maxConcurrency)", input: input)
    }
    for interval in [
        config.pollInterval, config.idlePollInterval, config.webhookIdlePollInterval, config.zuora.timeout,
    ]
    where !(interval >= 0.001) {
        violated("accepted a duration of \(interval) s", input: input)
    }
    // `--config.check` (Sources/Exporter/ExporterCommand.swift) prints these for any accepted file.
    _ = DurationText.format(config.pollInterval)
    _ = DurationText.format(config.idlePollInterval)
    let plan = PollPlan(
        activeInterval: config.pollInterval,
        restInterval: max(config.pollInterval, config.idlePollInterval),
        budget: config.zuora.requestBudget
    )
    _ = plan.report(meters: config.meters.count, tenantType: config.zuora.tenantType)
    return 0
}
