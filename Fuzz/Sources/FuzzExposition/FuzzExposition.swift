// Fuzz target: Exposition.appendEscaped(_:to:), Exposition.appendSample(...) and Exposition.header(...).
// Input: label value 1 \0 label value 2 \0 HELP text \0 8 bytes of the sample value.
import ExpositionParser
import FuzzSupport
import MediationCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = fuzzBytes(data, size)
    let split = parts(input, 4)
    let first = String(decoding: split[0], as: UTF8.self)
    let second = String(decoding: split[1], as: UTF8.self)
    let help = String(decoding: split[2], as: UTF8.self)
    let value = double(from: split[3])
    let whole = String(decoding: input, as: UTF8.self)

    // appendEscaped, alone and after existing bytes.
    for text in [whole, first, second] {
        var escaped: [UInt8] = []
        Exposition.appendEscaped(text, to: &escaped)
        if let problem = checkEscaped(escaped, original: text) { violated("appendEscaped: \(problem)", input: input) }
        var prefixed = Array("x=\"".utf8)
        Exposition.appendEscaped(text, to: &prefixed)
        if Array(prefixed.dropFirst(3)) != escaped { violated("appendEscaped depends on what precedes", input: input) }
    }

    // appendSample: exactly one line that parses back to the same name, labels and value.
    let name = "zuora_fuzz_metric"
    for labels in [[], [("meter_id", first)], [("meter_id", first), ("version", second)]] {
        var out: [UInt8] = []
        Exposition.appendSample(name, labels: labels, value: value, to: &out)
        guard out.last == UInt8(ascii: "\n"), out.firstIndex(of: UInt8(ascii: "\n")) == out.count - 1 else {
            violated("appendSample did not write exactly one line", input: input)
        }
        switch parseSampleLine(Array(out.dropLast())) {
        case .failure(let problem):
            violated("appendSample line does not parse: \(problem)", input: input)
        case .success(let sample):
            if sample.name != name { violated("name \(sample.name) read back", input: input) }
            if sample.labels.map(\.name) != labels.map(\.0) || sample.labels.map(\.value) != labels.map(\.1) {
                violated("labels read back differ: \(sample.labels) vs \(labels)", input: input)
            }
            if !(sample.value == value || (sample.value.isNaN && value.isNaN)) {
                violated("value \(value) read back as \(sample.value) (\(Exposition.format(value)))", input: input)
            }
        }
    }

    // header: HELP text may not break out of its line.
    let header = Exposition.header(name: name, type: "gauge", help: help)
    let lines = header.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
    if lines.count != 3 || !lines[2].isEmpty { violated("header is not exactly two lines", input: input) }
    if !lines[0].starts(with: Array("# HELP \(name) ".utf8)) || Array(lines[1]) != Array("# TYPE \(name) gauge".utf8) {
        violated("header lines malformed", input: input)
    }
    return 0
}
