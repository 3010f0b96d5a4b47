// Shared by the fuzz targets: input helpers and the checks of the exposition format.
// Standard library and ExpositionParser only, so that a failed check is about MediationCore and not about a helper.

import ExpositionParser

#if canImport(Glibc)
import Glibc
#endif

/// The fuzz input as bytes.
public func fuzzBytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
    Array(UnsafeBufferPointer(start: data, count: size))
}

/// Stops the run with a message: libFuzzer records the input as a crash.
public func violated(_ message: String, input: [UInt8]) -> Never {
    let shown = String(decoding: input.prefix(512), as: UTF8.self).debugDescription
    let text = "PROPERTY VIOLATED: \(message)\ninput (\(input.count) bytes, lossy): \(shown)\n"
    _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress, $0.count - 1) }
    abort()
}

/// Splits the input into `count` parts at 0x00 bytes (the last part takes the rest; missing parts are empty).
public func parts(_ bytes: [UInt8], _ count: Int) -> [[UInt8]] {
    var out: [[UInt8]] = []
    var rest = bytes[...]
    while out.count < count - 1, let zero = rest.firstIndex(of: 0) {
        out.append(Array(rest[..<zero]))
        rest = rest[(zero + 1)...]
    }
    out.append(Array(rest))
    while out.count < count { out.append([]) }
    return out
}

/// A Double from up to 8 bytes (any bit pattern: NaN, infinities, subnormals included).
public func double(from bytes: [UInt8]) -> Double {
    var bits: UInt64 = 0
    for byte in bytes.prefix(8) { bits = bits << 8 | UInt64(byte) }
    return Double(bitPattern: bits)
}

// MARK: - Exposition checks (the grammar itself is ExpositionParser, shared with the main package's tests)

/// The property of `Exposition.appendEscaped`: no raw line feed, every `"` escaped by a backslash that is
/// not itself escaped, only valid escapes, and unescaping gives back the original bytes.
public func checkEscaped(_ escaped: [UInt8], original: String) -> ExpositionProblem? {
    if escaped.contains(UInt8(ascii: "\n")) { return ExpositionProblem("escaped value contains a raw line feed") }
    // Naive form of the property: each quote has a backslash right before it.
    for (index, byte) in escaped.enumerated() where byte == UInt8(ascii: "\"") {
        if index == 0 || escaped[index - 1] != UInt8(ascii: "\\") {
            return ExpositionProblem("quote at byte \(index) is not preceded by a backslash")
        }
    }
    // Exact form: a parser reading the value (followed by the closing quote) gets the original back.
    switch readLabelValue(escaped + [UInt8(ascii: "\"")], from: 0) {
    case .failure(let problem): return problem
    case .success(let (value, end)):
        if end != escaped.count + 1 {
            return ExpositionProblem("an unescaped quote ends the value early at byte \(end - 1)")
        }
        if value != Array(original.utf8) {
            return ExpositionProblem("unescaping does not give the original value back")
        }
    }
    return nil
}

/// Checks a whole exposition body: it ends with a line feed, every line is a `# HELP`/`# TYPE` line or a
/// sample line of one of `names`, and every line parses. Returns the sample lines.
public func checkBody(_ body: [UInt8], names: Set<String>) -> Result<[SampleLine], ExpositionProblem> {
    let lines: [ArraySlice<UInt8>]
    switch exposedLines(body) {
    case .failure(let problem): return .failure(problem)
    case .success(let split): lines = split
    }
    var samples: [SampleLine] = []
    for (number, line) in lines.enumerated() {
        let text = Array(line)
        switch parseLine(text) {
        case .failure(let problem):
            let shown = String(decoding: text.prefix(200), as: UTF8.self).debugDescription
            return .failure(ExpositionProblem("line \(number + 1): \(problem): \(shown)"))
        case .success(.help(let name, _)), .success(.type(let name, _)):
            guard names.contains(name) else {
                return .failure(
                    ExpositionProblem("line \(number + 1): comment names unknown metric \(name.debugDescription)")
                )
            }
        case .success(.sample(let sample)):
            guard names.contains(sample.name) else {
                return .failure(
                    ExpositionProblem("line \(number + 1) starts with unknown metric \(sample.name.debugDescription)")
                )
            }
            samples.append(sample)
        }
    }
    return .success(samples)
}
