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

/// One sample line of the text exposition format, parsed independently of the code that wrote it.
struct Sample: Equatable {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// A text exposition (format 0.0.4) parsed line by line. `problems` lists lines that do not parse.
struct ParsedExposition {
    var samples: [Sample] = []
    /// The family each line belongs to, in order (HELP, TYPE and sample lines alike).
    var lineFamilies: [String] = []
    var helpCount: [String: Int] = [:]
    var types: [String: [String]] = [:]
    var problems: [String] = []

    init(_ body: String) {
        for line in body.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ", maxSplits: 3).map(String.init)
                guard parts.count >= 3 else {
                    problems.append(String(line))
                    continue
                }
                lineFamilies.append(parts[2])
                if parts[1] == "HELP" {
                    helpCount[parts[2], default: 0] += 1
                } else {
                    types[parts[2], default: []].append(parts.count > 3 ? parts[3] : "")
                }
            } else if let sample = Self.parseSample(Substring(line)) {
                samples.append(sample)
                lineFamilies.append(sample.name)
            } else {
                problems.append(String(line))
            }
        }
    }

    /// The value of the series with exactly these labels, if present (and unique).
    func value(_ name: String, _ labels: [String: String]) -> Double? {
        let found = samples.filter { $0.name == name && $0.labels == labels }
        return found.count == 1 ? found[0].value : nil
    }

    /// Every sample of `name` whose labels include `subset`.
    func samples(_ name: String, matching subset: [String: String] = [:]) -> [Sample] {
        samples.filter { sample in
            sample.name == name && subset.allSatisfy { sample.labels[$0.key] == $0.value }
        }
    }

    /// Family names in order of first appearance, each once per contiguous run of lines.
    var familyRuns: [String] {
        var runs: [String] = []
        for family in lineFamilies where runs.last != family { runs.append(family) }
        return runs
    }

    /// `name{a="x",...} value`, with label values unescaped (`\\`, `\"`, `\n`).
    static func parseSample(_ line: Substring) -> Sample? {
        var rest = line.unicodeScalars[...]
        let name = String(String.UnicodeScalarView(rest.prefix { $0 != "{" && $0 != " " }))
        guard !name.isEmpty else { return nil }
        rest = rest.dropFirst(name.unicodeScalars.count)
        var labels: [String: String] = [:]
        if rest.first == "{" {
            rest = rest.dropFirst()
            while rest.first != "}" {
                let label = String(String.UnicodeScalarView(rest.prefix { $0 != "=" }))
                rest = rest.dropFirst(label.unicodeScalars.count)
                guard !label.isEmpty, rest.first == "=", rest.dropFirst().first == "\"" else { return nil }
                rest = rest.dropFirst(2)
                var value = String.UnicodeScalarView()
                while let scalar = rest.first, scalar != "\"" {
                    rest = rest.dropFirst()
                    guard scalar == "\\" else {
                        value.append(scalar)
                        continue
                    }
                    switch rest.first {
                    case "\\": value.append("\\")
                    case "\"": value.append("\"")
                    case "n": value.append("\n")
                    default: return nil
                    }
                    rest = rest.dropFirst()
                }
                guard rest.first == "\"", labels[label] == nil else { return nil }
                labels[label] = String(value)
                rest = rest.dropFirst()
                if rest.first == "," { rest = rest.dropFirst() }
                guard !rest.isEmpty else { return nil }
            }
            rest = rest.dropFirst()
        }
        guard rest.first == " " else { return nil }
        let valueText = String(String.UnicodeScalarView(rest.dropFirst()))
        let value: Double? =
            switch valueText {
            case "+Inf": .infinity
            case "-Inf": -.infinity
            case "NaN": .nan
            default: Double(valueText)
            }
        guard let value else { return nil }
        return Sample(name: name, labels: labels, value: value)
    }
}

/// The labels every per-meter series carries.
func meterLabels(_ key: MeterKey, _ extra: [String: String] = [:]) -> [String: String] {
    ["meter_id": String(key.meterId), "version": key.version].merging(extra) { $1 }
}
