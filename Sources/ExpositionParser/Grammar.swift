// The text exposition format 0.0.4, line by line, as strictly as the exporter must write it.
// Standard library only: a failed check is about the code that wrote the text, not about a helper.
//
// Sample line: `name{label="value",...} value`, with
//   metric name  [a-zA-Z_:][a-zA-Z0-9_:]*
//   label name   [a-zA-Z_][a-zA-Z0-9_]* (each name at most once in a line)
//   label value  UTF-8 between double quotes; only `\\`, `\"` and `\n` are escapes
//   value        a finite float, `+Inf`, `-Inf` or `NaN`; no timestamp
// one space between the name (or label set) and the value, a comma or `}` after each label value.
// `# HELP name text` (escapes `\\` and `\n`) and `# TYPE name type` are the only comment lines allowed.

/// Why a line (or a body) is not in the format.
public struct ExpositionProblem: Error, CustomStringConvertible, Equatable, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// One parsed sample line, labels in the order written.
public struct SampleLine: Sendable {
    public var name: String
    public var labels: [(name: String, value: String)]
    public var value: Double

    public init(name: String, labels: [(name: String, value: String)], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }
}

/// One line of an exposition: a `# HELP` line, a `# TYPE` line or a sample line.
public enum ExpositionLine: Sendable {
    case help(family: String, text: String)
    case type(family: String, type: String)
    case sample(SampleLine)
}

/// The metric types a `# TYPE` line may name.
public let metricTypes: Set<String> = ["counter", "gauge", "histogram", "summary", "untyped"]

/// Whether `byte` may start a metric name (`[a-zA-Z_:]`); label names exclude the colon.
public func isNameStart(_ byte: UInt8) -> Bool {
    (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122) || byte == 95 || byte == 58
}

/// Whether `byte` may continue a metric name (`[a-zA-Z0-9_:]`).
public func isNameByte(_ byte: UInt8) -> Bool { isNameStart(byte) || (byte >= 48 && byte <= 57) }

/// Whether `name` is a valid metric name.
public func isMetricName<Bytes: Collection<UInt8>>(_ name: Bytes) -> Bool {
    guard let first = name.first, isNameStart(first) else { return false }
    return name.allSatisfy(isNameByte)
}

/// Whether `name` is a valid label name.
public func isLabelName<Bytes: Collection<UInt8>>(_ name: Bytes) -> Bool {
    !name.contains(58) && isMetricName(name)
}

/// Reads an escaped label value as a Prometheus text parser does, from `start` up to its closing quote.
/// Returns the unescaped bytes and the index just after the closing quote, or the problem.
/// Only `\\`, `\"` and `\n` are valid escapes; a raw line feed or an unescaped quote ends the value.
public func readLabelValue(_ bytes: [UInt8], from start: Int) -> Result<(value: [UInt8], end: Int), ExpositionProblem> {
    var value: [UInt8] = []
    var index = start
    while index < bytes.count {
        let byte = bytes[index]
        switch byte {
        case UInt8(ascii: "\""):
            return .success((value, index + 1))
        case UInt8(ascii: "\n"):
            return .failure(ExpositionProblem("raw line feed inside a label value at byte \(index)"))
        case UInt8(ascii: "\\"):
            guard index + 1 < bytes.count else { return .failure(ExpositionProblem("backslash at the end")) }
            switch bytes[index + 1] {
            case UInt8(ascii: "\\"): value.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "\""): value.append(UInt8(ascii: "\""))
            case UInt8(ascii: "n"): value.append(UInt8(ascii: "\n"))
            default:
                return .failure(
                    ExpositionProblem("invalid escape \\\(UnicodeScalar(bytes[index + 1])) at byte \(index)")
                )
            }
            index += 2
        default:
            value.append(byte)
            index += 1
        }
    }
    return .failure(ExpositionProblem("label value not closed"))
}

/// Parses a sample value: `+Inf`, `-Inf`, `NaN` or a finite float (digits, sign, point, exponent).
public func parseSampleValue(_ text: String) -> Double? {
    switch text {
    case "+Inf": return .infinity
    case "-Inf": return -.infinity
    case "NaN": return .nan
    default:
        guard !text.isEmpty, text.utf8.allSatisfy({ isNameByte($0) || $0 == 43 || $0 == 45 || $0 == 46 }),
            let parsed = Double(text), parsed.isFinite
        else { return nil }
        return parsed
    }
}

/// Parses one sample line (without its line feed): `name{label="value",...} value`.
public func parseSampleLine(_ line: [UInt8]) -> Result<SampleLine, ExpositionProblem> {
    var index = 0
    guard index < line.count, isNameStart(line[index]) else {
        return .failure(ExpositionProblem("line does not start with a metric name"))
    }
    while index < line.count, isNameByte(line[index]) { index += 1 }
    let name = String(decoding: line[..<index], as: UTF8.self)
    var labels: [(name: String, value: String)] = []
    if index < line.count, line[index] == UInt8(ascii: "{") {
        index += 1
        while true {
            guard index < line.count else { return .failure(ExpositionProblem("label set not closed")) }
            if line[index] == UInt8(ascii: "}") {
                index += 1
                break
            }
            let labelStart = index
            guard isNameStart(line[index]), line[index] != 58 else {
                return .failure(ExpositionProblem("bad label name at byte \(index)"))
            }
            while index < line.count, isNameByte(line[index]), line[index] != 58 { index += 1 }
            let labelName = String(decoding: line[labelStart..<index], as: UTF8.self)
            guard index + 1 < line.count, line[index] == UInt8(ascii: "="), line[index + 1] == UInt8(ascii: "\"")
            else { return .failure(ExpositionProblem("expected =\" after label \(labelName)")) }
            switch readLabelValue(line, from: index + 2) {
            case .failure(let problem): return .failure(problem)
            case .success(let (value, end)):
                guard let text = String(validating: value, as: UTF8.self) else {
                    return .failure(ExpositionProblem("label \(labelName) is not UTF-8"))
                }
                guard !labels.contains(where: { $0.name == labelName }) else {
                    return .failure(ExpositionProblem("label \(labelName) repeated"))
                }
                labels.append((labelName, text))
                index = end
            }
            if index < line.count, line[index] == UInt8(ascii: ",") {
                index += 1
            } else if index < line.count, line[index] != UInt8(ascii: "}") {
                return .failure(ExpositionProblem("expected , or } after the value of label \(labelName)"))
            }
        }
    }
    guard index < line.count, line[index] == UInt8(ascii: " ") else {
        return .failure(ExpositionProblem("expected a space before the value"))
    }
    let text = String(decoding: line[(index + 1)...], as: UTF8.self)
    guard let value = parseSampleValue(text) else {
        return .failure(ExpositionProblem("value \(text.debugDescription) is not a number"))
    }
    return .success(SampleLine(name: name, labels: labels, value: value))
}

/// Parses a `# HELP` or `# TYPE` line (without its line feed); `nil` if the line is neither.
public func parseCommentLine(_ line: [UInt8]) -> Result<ExpositionLine, ExpositionProblem>? {
    let isHelp = line.starts(with: "# HELP ".utf8)
    guard isHelp || line.starts(with: "# TYPE ".utf8) else { return nil }
    let rest = line.dropFirst(7)
    let nameBytes = rest.prefix { $0 != UInt8(ascii: " ") }
    let family = String(decoding: nameBytes, as: UTF8.self)
    guard isMetricName(nameBytes) else {
        return .failure(ExpositionProblem("bad metric name \(family.debugDescription) in a comment"))
    }
    let tail = rest.dropFirst(nameBytes.count + 1)
    if isHelp {
        var text: [UInt8] = []
        var index = tail.startIndex
        while index < tail.endIndex {
            guard tail[index] == UInt8(ascii: "\\") else {
                text.append(tail[index])
                index += 1
                continue
            }
            guard index + 1 < tail.endIndex else { return .failure(ExpositionProblem("HELP ends with a backslash")) }
            switch tail[index + 1] {
            case UInt8(ascii: "\\"): text.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "n"): text.append(UInt8(ascii: "\n"))
            default: return .failure(ExpositionProblem("invalid escape in HELP of \(family)"))
            }
            index += 2
        }
        guard let help = String(validating: text, as: UTF8.self) else {
            return .failure(ExpositionProblem("HELP of \(family) is not UTF-8"))
        }
        return .success(.help(family: family, text: help))
    }
    let type = String(decoding: tail, as: UTF8.self)
    guard metricTypes.contains(type) else {
        return .failure(ExpositionProblem("TYPE of \(family) is \(type.debugDescription)"))
    }
    return .success(.type(family: family, type: type))
}

/// Parses one line of an exposition (without its line feed).
public func parseLine(_ line: [UInt8]) -> Result<ExpositionLine, ExpositionProblem> {
    if let comment = parseCommentLine(line) { return comment }
    if line.first == UInt8(ascii: "#") {
        return .failure(ExpositionProblem("comment line other than # HELP and # TYPE"))
    }
    return parseSampleLine(line).map { .sample($0) }
}

/// The lines of a body: it must be empty or end with a line feed. Each line comes without its line feed.
public func exposedLines(_ body: [UInt8]) -> Result<[ArraySlice<UInt8>], ExpositionProblem> {
    if body.isEmpty { return .success([]) }
    guard body.last == UInt8(ascii: "\n") else {
        return .failure(ExpositionProblem("body does not end with a line feed"))
    }
    return .success(body.dropLast().split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false))
}
