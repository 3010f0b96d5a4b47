// The convenient side of the parser, for tests: samples with their labels in a dictionary, the families
// in the order of their lines, and every line that is not in the format listed as a problem.

/// One sample line, labels unescaped and keyed by name.
public struct Sample: Equatable, Sendable {
    public var name: String
    public var labels: [String: String]
    public var value: Double

    public init(name: String, labels: [String: String] = [:], value: Double) {
        self.name = name
        self.labels = labels
        self.value = value
    }

    public init(_ line: SampleLine) {
        self.init(
            name: line.name,
            labels: Dictionary(line.labels.map { ($0.name, $0.value) }) { first, _ in first },
            value: line.value
        )
    }
}

/// A text exposition (format 0.0.4) parsed line by line with the strict grammar of `parseLine(_:)`.
/// `problems` lists what is not in the format: each bad line (with the reason), an empty line, a body that
/// does not end with a line feed. The lines that parse are kept all the same.
public struct ParsedExposition: Sendable {
    public var samples: [Sample] = []
    /// The family each line belongs to, in order (HELP, TYPE and sample lines alike).
    public var lineFamilies: [String] = []
    public var helpCount: [String: Int] = [:]
    /// The types declared for each family, in order (more than one is a problem for the caller to see).
    public var types: [String: [String]] = [:]
    public var problems: [String] = []

    public init(_ body: String) { self.init(bytes: Array(body.utf8)) }

    public init(bytes body: [UInt8]) {
        var lines: [ArraySlice<UInt8>]
        switch exposedLines(body) {
        case .success(let split): lines = split
        case .failure(let problem):
            problems.append(problem.description)
            lines = body.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        }
        for (number, line) in lines.enumerated() {
            switch parseLine(Array(line)) {
            case .success(.help(let family, _)):
                lineFamilies.append(family)
                helpCount[family, default: 0] += 1
            case .success(.type(let family, let type)):
                lineFamilies.append(family)
                types[family, default: []].append(type)
            case .success(.sample(let line)):
                samples.append(Sample(line))
                lineFamilies.append(line.name)
            case .failure(let problem):
                let shown = String(decoding: line.prefix(200), as: UTF8.self).debugDescription
                problems.append("line \(number + 1): \(problem): \(shown)")
            }
        }
    }

    /// The value of the series with exactly these labels, if present (and unique).
    public func value(_ name: String, _ labels: [String: String]) -> Double? {
        let found = samples.filter { $0.name == name && $0.labels == labels }
        return found.count == 1 ? found[0].value : nil
    }

    /// Every sample of `name` whose labels include `subset`.
    public func samples(_ name: String, matching subset: [String: String] = [:]) -> [Sample] {
        samples.all(name, subset)
    }

    /// Family names in order of first appearance, each once per contiguous run of lines.
    public var familyRuns: [String] {
        var runs: [String] = []
        for family in lineFamilies where runs.last != family { runs.append(family) }
        return runs
    }

    /// One sample line, or `nil` if it is not one.
    public static func parseSample(_ line: Substring) -> Sample? {
        guard case .success(let sample) = parseSampleLine(Array(line.utf8)) else { return nil }
        return Sample(sample)
    }
}

/// The samples of an exposition; lines that do not parse are left out (`ParsedExposition` lists them).
public func parseExposition(_ text: String) -> [Sample] { ParsedExposition(text).samples }

extension [Sample] {
    /// The value of the first sample with this name whose labels include `labels`.
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        all(name, labels).first?.value
    }

    /// Every sample with this name whose labels include `labels`.
    public func all(_ name: String, _ labels: [String: String] = [:]) -> [Sample] {
        filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
    }
}
