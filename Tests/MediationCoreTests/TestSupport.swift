import Testing

@testable import MediationCore

/// The documented run-status names by code, written out from the API reference (not taken from the
/// code under test), so that a wrong table in `RunStatus` makes tests fail.
let documentedNames: [Int: String] = [
    1: "NEVER_RUN", 2: "TESTING", 3: "TESTING_FAILED", 4: "TESTING_PASSED", 5: "RUNNING", 6: "PAUSED",
    7: "COMPLETED", 8: "FAILED", 9: "CANCELED", 10: "INITIALIZING", 11: "USAGE_PUSHING", 12: "PUSH_COMPLETED",
    13: "CONSUME_COMPLETED",
]

/// The expected `from`/`to`/`state` label for a code.
func expectedName(_ code: Int) -> String { documentedNames[code] ?? "UNKNOWN" }

/// Every name the state set must cover.
let allStateNames: Set<String> = Set(documentedNames.values).union(["UNKNOWN"])

func key(_ id: Int64, _ version: String = "0.0.1") -> MeterKey { MeterKey(meterId: id, version: version) }

func spec(_ id: Int64, _ version: String = "0.0.1", name: String? = nil) -> MeterSpec {
    MeterSpec(key: key(id, version), name: name)
}

func ok(_ key: MeterKey, _ code: Int, at time: Double) -> PollOutcome {
    PollOutcome(key: key, result: .status(RunStatus(code: code)), at: time)
}

func failed(_ key: MeterKey, _ reason: PollErrorReason, _ message: String = "boom", at time: Double) -> PollOutcome {
    PollOutcome(key: key, result: .failure(reason, message: message), at: time)
}

func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// The labels every per-meter series carries.
func meterLabels(_ key: MeterKey, _ extra: [String: String] = [:]) -> [String: String] {
    ["meter_id": String(key.meterId), "version": key.version].merging(extra) { $1 }
}
