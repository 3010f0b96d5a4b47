import ExpositionParser
import Testing

@testable import MediationCore

/// The one parser of the text format (module ExpositionParser), used by these tests, the integration tests
/// and the fuzz targets: what it accepts, what it refuses and why.
struct ExpositionParserTests {
    func sample(_ line: String) -> SampleLine? {
        guard case .success(let sample) = parseSampleLine(Array(line.utf8)) else { return nil }
        return sample
    }

    func problem(_ line: String) -> String? {
        guard case .failure(let problem) = parseLine(Array(line.utf8)) else { return nil }
        return problem.description
    }

    struct Valid: Sendable, CustomTestStringConvertible {
        var line: String
        var name: String
        var labels: [(String, String)] = []
        var value: Double
        var testDescription: String { line }
    }

    static let valid: [Valid] = [
        Valid(line: "up 1", name: "up", value: 1),
        Valid(line: "a:b_c9 -0.5", name: "a:b_c9", value: -0.5),
        Valid(line: "_x 1e3", name: "_x", value: 1000),
        Valid(line: "x{} 2", name: "x", value: 2),
        Valid(line: #"x{a="1"} 3"#, name: "x", labels: [("a", "1")], value: 3),
        Valid(line: #"x{a="1",} 3"#, name: "x", labels: [("a", "1")], value: 3),
        Valid(line: #"x{a="",b_2="y z"} 0"#, name: "x", labels: [("a", ""), ("b_2", "y z")], value: 0),
        Valid(line: #"x{le="+Inf"} 7"#, name: "x", labels: [("le", "+Inf")], value: 7),
        Valid(line: #"x{name="Zähler ✓"} 1"#, name: "x", labels: [("name", "Zähler ✓")], value: 1),
        Valid(line: "x 1.7976931348623157e308", name: "x", value: .greatestFiniteMagnitude),
        Valid(line: "x +Inf", name: "x", value: .infinity),
        Valid(line: "x -Inf", name: "x", value: -.infinity),
    ]

    @Test(arguments: valid)
    func validLines(_ valid: Valid) throws {
        let parsed = try #require(sample(valid.line))
        #expect(parsed.name == valid.name)
        #expect(parsed.labels.map(\.name) == valid.labels.map(\.0))
        #expect(parsed.labels.map(\.value) == valid.labels.map(\.1))
        #expect(parsed.value == valid.value)
    }

    @Test func notANumberIsAValue() throws {
        #expect(try #require(sample("x NaN")).value.isNaN)
    }

    static let escapes: [(escaped: String, value: String)] = [
        (#"a\\b"#, #"a\b"#),
        (#"say \"hi\""#, #"say "hi""#),
        (#"one\ntwo"#, "one\ntwo"),
        (#"\\n"#, #"\n"#),
        (#"\\\"\n"#, "\\\"\n"),
    ]

    @Test(arguments: escapes)
    func everyEscape(escaped: String, value: String) throws {
        let parsed = try #require(sample("x{v=\"\(escaped)\"} 1"))
        #expect(parsed.labels.first?.value == value)
    }

    static let hostile: [(line: String, reason: String)] = [
        (#"x{a="1} 1"#, "label value not closed"),
        (#"x{a="1"#, "label value not closed"),
        (#"x{a="1\"} 1"#, "label value not closed"),
        (#"x{a="1\"#, "backslash at the end"),
        (#"x{a="\t"} 1"#, "invalid escape"),
        (#"x{a="\u00e9"} 1"#, "invalid escape"),
        (#"x{a="\'"} 1"#, "invalid escape"),
        ("x{a=\"1\n2\"} 1", "raw line feed"),
        (#"x{a=1} 1"#, "expected =\""),
        (#"x{a ="1"} 1"#, "expected =\""),
        (#"x{a} 1"#, "expected =\""),
        (#"x{="1"} 1"#, "bad label name"),
        (#"x{,} 1"#, "bad label name"),
        (#"x{1a="1"} 1"#, "bad label name"),
        (#"x{a:b="1"} 1"#, "expected =\""),
        (#"x{é="1"} 1"#, "bad label name"),
        (#"x{a="1" b="2"} 1"#, "expected , or }"),
        (#"x{a="1"b="2"} 1"#, "expected , or }"),
        (#"x{a="1",a="2"} 1"#, "repeated"),
        (#"x{a="1""#, "label set not closed"),
        ("zähler 1", "expected a space"),
        ("é 1", "does not start with a metric name"),
        ("1x 1", "does not start with a metric name"),
        (" x 1", "does not start with a metric name"),
        ("", "does not start with a metric name"),
        ("x", "expected a space"),
        ("x  1", "is not a number"),
        ("x 1 ", "is not a number"),
        ("x 1 1700000000000", "is not a number"),
        ("x", "expected a space"),
        ("x ", "is not a number"),
        ("x 1e400", "is not a number"),
        ("x -1e309", "is not a number"),
        ("x inf", "is not a number"),
        ("x Inf", "is not a number"),
        ("x nan", "is not a number"),
        ("x 1,5", "is not a number"),
        ("x ١", "is not a number"),
        ("x\t1", "expected a space"),
        ("x 1\r", "is not a number"),
        ("# EOF", "comment line other than"),
        ("#HELP x y", "comment line other than"),
        ("# HELP", "comment line other than"),
        ("# HELP 1x text", "bad metric name"),
        (#"# HELP x a \t"#, "invalid escape"),
        (#"# HELP x a \"#, "ends with a backslash"),
        ("# TYPE x", "TYPE of x"),
        ("# TYPE x counter ", "TYPE of x"),
        ("# TYPE x Counter", "TYPE of x"),
        ("# TYPE x gaugeish", "TYPE of x"),
    ]

    @Test(arguments: hostile)
    func hostileLines(line: String, reason: String) throws {
        let found = try #require(problem(line), "\(line.debugDescription) parsed")
        #expect(found.contains(reason), "\(line.debugDescription): \(found)")
    }

    @Test func invalidUTF8InALabelValueIsRefused() {
        let line = Array(#"x{a=""#.utf8) + [0xFF, 0xFE] + Array(#""} 1"#.utf8)
        guard case .failure(let problem) = parseSampleLine(line) else {
            Issue.record("parsed")
            return
        }
        #expect(problem.description.contains("not UTF-8"))
    }

    @Test func commentLines() throws {
        guard case .success(.help("x", #"a\b"# + "\n" + #"c "d""#)) = parseLine(Array(#"# HELP x a\\b\nc "d""#.utf8))
        else {
            Issue.record("HELP not read")
            return
        }
        guard case .success(.help("x", "")) = parseLine(Array("# HELP x ".utf8)) else {
            Issue.record("empty HELP not read")
            return
        }
        for type in ["counter", "gauge", "histogram", "summary", "untyped"] {
            guard case .success(.type("x", type)) = parseLine(Array("# TYPE x \(type)".utf8)) else {
                Issue.record("TYPE \(type) not read")
                continue
            }
        }
    }

    @Test func wholeBodies() {
        let body = """
            # HELP a_total Things.
            # TYPE a_total counter
            a_total{k="1"} 2
            a_total{k="2"} 3
            # HELP b B.
            # TYPE b gauge
            b 1

            """
        let parsed = ParsedExposition(body)
        #expect(parsed.problems.isEmpty)
        #expect(parsed.familyRuns == ["a_total", "b"])
        #expect(parsed.lineFamilies.count == 7)
        #expect(parsed.helpCount == ["a_total": 1, "b": 1])
        #expect(parsed.types == ["a_total": ["counter"], "b": ["gauge"]])
        #expect(parsed.value("a_total", ["k": "2"]) == 3)
        #expect(parsed.value("a_total", [:]) == nil, "exact labels only")
        #expect(parsed.samples("a_total").count == 2)
        #expect(
            parsed.samples("a_total", matching: ["k": "1"]) == [Sample(name: "a_total", labels: ["k": "1"], value: 2)]
        )
        #expect(parseExposition(body).value("a_total") == 2, "first sample whose labels include the subset")
        #expect(parseExposition(body).all("a_total", ["k": "2"]).map(\.value) == [3])
        #expect(ParsedExposition("").problems.isEmpty)
    }

    @Test func bodyProblemsAreListedAndGoodLinesKept() {
        let parsed = ParsedExposition("a 1\n\nb{x=\"} 2\n# nothing\nc 3")
        #expect(parsed.samples.map(\.name) == ["a", "c"])
        #expect(parsed.problems.count == 4, "\(parsed.problems)")
        #expect(parsed.problems.first == "body does not end with a line feed")
        #expect(parsed.problems.dropFirst().allSatisfy { $0.hasPrefix("line ") })
        #expect(ParsedExposition.parseSample("a{b=\"c\"} 1") == Sample(name: "a", labels: ["b": "c"], value: 1))
        #expect(ParsedExposition.parseSample("a{b=\"c\"}") == nil)
    }

    /// The writer and the parser agree on hostile label values and on every kind of value.
    @Test(arguments: ["", "\"", "\\", "\n", "\\n", "\\\"", "a\"b\\c\nd", "é ✓ \u{0}", "}", "\",x=\""])
    func roundTripThroughTheExporterWriter(label: String) throws {
        for value in [0, -0.0, 1.5, -1e-300, .greatestFiniteMagnitude, .infinity, -.infinity, .nan] {
            var out: [UInt8] = []
            Exposition.appendSample("m", labels: [("l", label), ("k", "v")], value: value, to: &out)
            #expect(out.last == UInt8(ascii: "\n"))
            let parsed = try #require(try? parseSampleLine(Array(out.dropLast())).get(), "\(text(out))")
            #expect(parsed.labels.map(\.name) == ["l", "k"])
            #expect(parsed.labels.map(\.value) == [label, "v"])
            #expect(parsed.value == value || (parsed.value.isNaN && value.isNaN))
        }
    }
}
