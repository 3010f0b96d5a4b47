// Shared by the fuzz targets: input helpers and the checks of the exposition format.
// Standard library only, so that a failed check is about MediationCore and not about a helper.

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

// MARK: - Label values

/// Reads an escaped label value as a Prometheus text parser does, from `start` up to its closing quote.
/// Returns the unescaped bytes and the index just after the closing quote, or a description of the problem.
/// Only `\\`, `\"` and `\n` are valid escapes; a raw line feed or an unescaped quote ends the value.
public func readLabelValue(_ bytes: [UInt8], from start: Int) -> Result<(value: [UInt8], end: Int), Problem> {
    var value: [UInt8] = []
    var index = start
    while index < bytes.count {
        let byte = bytes[index]
        switch byte {
        case UInt8(ascii: "\""):
            return .success((value, index + 1))
        case UInt8(ascii: "\n"):
            return .failure(Problem("raw line feed inside a label value at byte \(index)"))
        case UInt8(ascii: "\\"):
            guard index + 1 < bytes.count else { return .failure(Problem("backslash at the end")) }
            switch bytes[index + 1] {
            case UInt8(ascii: "\\"): value.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\""): value.append(UInt8(ascii: "\""))
            case UInt8(ascii: "n"): value.append(UInt8(ascii: "\n"))
            default: return .failure(Problem("invalid escape \\\(UnicodeScalar(bytes[index + 1])) at byte \(index)"))
            }
            index += 2
        default:
            value.append(byte)
            index += 1
        }
    }
    return .failure(Problem("label value not closed"))
}

public struct Problem: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The property of `Exposition.appendEscaped`: no raw line feed, every `"` escaped by a backslash that is
/// not itself escaped, only valid escapes, and unescaping gives back the original bytes.
public func checkEscaped(_ escaped: [UInt8], original: String) -> Problem? {
    if escaped.contains(UInt8(ascii: "\n")) { return Problem("escaped value contains a raw line feed") }
    // Naive form of the property: each quote has a backslash right before it.
    for (index, byte) in escaped.enumerated() where byte == UInt8(ascii: "\"") {
        if index == 0 || escaped[index - 1] != UInt8(ascii: "\\") {
            return Problem("quote at byte \(index) is not preceded by a backslash")
        }
    }
    // Exact form: a parser reading the value (followed by the closing quote) gets the original back.
    switch readLabelValue(escaped + [UInt8(ascii: "\"")], from: 0) {
    case .failure(let problem): return problem
    case .success(let (value, end)):
        if end != escaped.count + 1 { return Problem("an unescaped quote ends the value early at byte \(end - 1)") }
        if value != Array(original.utf8) { return Problem("unescaping does not give the original value back") }
    }
    return nil
}

// MARK: - Exposition lines

/// One parsed sample line.
public struct SampleLine {
    public var name: String
    public var labels: [(name: String, value: String)]
    public var value: Double
}

private func isNameStart(_ byte: UInt8) -> Bool {
    (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == 95 || byte == 58
}

private func isNameByte(_ byte: UInt8) -> Bool { isNameStart(byte) || (byte >= 48 && byte <= 57) }

/// Parses one sample line (without its line feed) of the text format 0.0.4:
/// `name{label="value",...} value`.
public func parseSampleLine(_ line: [UInt8]) -> Result<SampleLine, Problem> {
    var index = 0
    guard index < line.count, isNameStart(line[index]) else {
        return .failure(Problem("line does not start with a metric name"))
    }
    while index < line.count, isNameByte(line[index]) { index += 1 }
    let name = String(decoding: line[..<index], as: UTF8.self)
    var labels: [(String, String)] = []
    if index < line.count, line[index] == UInt8(ascii: "{") {
        index += 1
        while true {
            guard index < line.count else { return .failure(Problem("label set not closed")) }
            if line[index] == UInt8(ascii: "}") {
                index += 1
                break
            }
            let labelStart = index
            guard isNameStart(line[index]), line[index] != 58 else {
                return .failure(Problem("bad label name at byte \(index)"))
            }
            while index < line.count, isNameByte(line[index]), line[index] != 58 { index += 1 }
            let labelName = String(decoding: line[labelStart..<index], as: UTF8.self)
            guard index + 1 < line.count, line[index] == UInt8(ascii: "="), line[index + 1] == UInt8(ascii: "\"")
            else { return .failure(Problem("expected =\" after label \(labelName)")) }
            switch readLabelValue(line, from: index + 2) {
            case .failure(let problem): return .failure(problem)
            case .success(let (value, end)):
                guard let text = String(validating: value, as: UTF8.self) else {
                    return .failure(Problem("label \(labelName) is not UTF-8"))
                }
                labels.append((labelName, text))
                index = end
            }
            if index < line.count, line[index] == UInt8(ascii: ",") { index += 1 }
        }
    }
    guard index < line.count, line[index] == UInt8(ascii: " ") else {
        return .failure(Problem("expected a space before the value"))
    }
    let text = String(decoding: line[(index + 1)...], as: UTF8.self)
    let value: Double
    switch text {
    case "+Inf": value = .infinity
    case "-Inf": value = -.infinity
    case "NaN": value = .nan
    default:
        guard !text.isEmpty, text.utf8.allSatisfy({ isNameByte($0) || $0 == 43 || $0 == 45 || $0 == 46 }),
            let parsed = Double(text), parsed.isFinite
        else { return .failure(Problem("value \(text.debugDescription) is not a number")) }
        value = parsed
    }
    return .success(SampleLine(name: name, labels: labels, value: value))
}

/// Checks a whole exposition body: it ends with a line feed, every line is a `# HELP`/`# TYPE` line or a
/// sample line of one of `names`, and every sample line parses. Returns the sample lines.
public func checkBody(_ body: [UInt8], names: Set<String>) -> Result<[SampleLine], Problem> {
    if body.isEmpty { return .success([]) }
    guard body.last == UInt8(ascii: "\n") else { return .failure(Problem("body does not end with a line feed")) }
    var samples: [SampleLine] = []
    for (number, line) in body.dropLast().split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        .enumerated()
    {
        let text = Array(line)
        if text.starts(with: Array("# HELP ".utf8)) || text.starts(with: Array("# TYPE ".utf8)) {
            let rest = text.dropFirst(7)
            let name = String(decoding: rest.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self)
            guard names.contains(name) else {
                return .failure(Problem("line \(number + 1): comment names unknown metric \(name.debugDescription)"))
            }
            continue
        }
        switch parseSampleLine(text) {
        case .failure(let problem):
            return .failure(
                Problem(
                    "line \(number + 1): \(problem): \(String(decoding: text.prefix(200), as: UTF8.self).debugDescription)"
                )
            )
        case .success(let sample):
            guard names.contains(sample.name) else {
                return .failure(
                    Problem("line \(number + 1) starts with unknown metric \(sample.name.debugDescription)")
                )
            }
            samples.append(sample)
        }
    }
    return .success(samples)
}
