import Foundation
import Logging
import Testing

@testable import MediationCore

/// Log lines as Prometheus components write them: logfmt or one JSON object a line.
struct LogFormatTests {
    static let time = "2026-02-20T10:15:00.123Z"

    func line(
        _ format: LineLogHandler.Format,
        _ level: Logger.Level,
        _ message: String,
        _ metadata: Logger.Metadata
    )
        -> String
    {
        LineLogHandler.line(format: format, time: Self.time, level: level, message: message, metadata: metadata)
    }

    @Test func logfmtLeavesPlainValuesBareAndSortsKeys() {
        let text = line(.logfmt, .info, "started", ["version": "0.0.1", "meter_id": "101"])
        #expect(text == "ts=2026-02-20T10:15:00.123Z level=info msg=started meter_id=101 version=0.0.1")
    }

    @Test func logfmtQuotesAndEscapesWhatWouldBreakTheLine() {
        let text = line(
            .logfmt,
            .warning,
            "poll of meter failed",
            ["error": "code 70002006: \"unauthorized\"\nretry", "empty": "", "eq": "a=b", "tab": "a\tb"]
        )
        #expect(!text.contains("\n"), "one line")
        #expect(text.hasPrefix("ts=2026-02-20T10:15:00.123Z level=warn msg=\"poll of meter failed\" "))
        #expect(text.contains(#"empty="""#))
        #expect(text.contains(#"eq="a=b""#))
        #expect(text.contains(#"error="code 70002006: \"unauthorized\"\nretry""#))
        #expect(text.contains(#"tab="a\tb""#))
        let keys = text.split(separator: " ").compactMap { $0.split(separator: "=").first.map(String.init) }
        #expect(Array(keys.prefix(3)) == ["ts", "level", "msg"])
    }

    @Test(arguments: [Logger.Level.trace, .debug, .info, .notice, .error, .critical])
    func levelsAreNamedAsWritten(level: Logger.Level) {
        #expect(line(.logfmt, level, "m", [:]).contains(" level=\(level.rawValue) "))
    }

    @Test func jsonLinesAreValidJSONWithTheSameFields() throws {
        let message = "say \"hi\"\\ then\nleave\t\u{1}é"
        let text = line(.json, .warning, message, ["error": "a\"b", "meter_id": "101"])
        #expect(!text.contains("\n"), "one line")
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: String],
            "not a JSON object of strings: \(text)"
        )
        #expect(
            object == [
                "ts": Self.time, "level": "warn", "msg": message, "error": "a\"b", "meter_id": "101",
            ]
        )
        #expect(text.hasPrefix(#"{"ts":"2026-02-20T10:15:00.123Z","level":"warn","msg":"#))
    }

    @Test func isoTimestampsAreUTCWithMilliseconds() {
        #expect(LandingPage.isoTimestamp(0) == "1970-01-01T00:00:00.000Z")
        #expect(LandingPage.isoTimestamp(1_700_000_000.5) == "2023-11-14T22:13:20.500Z")
        #expect(LandingPage.isoTimestamp(951_782_400) == "2000-02-29T00:00:00.000Z")
    }
}
