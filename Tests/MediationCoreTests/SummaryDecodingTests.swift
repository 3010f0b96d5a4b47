import Foundation
import Testing

@testable import MediationCore

/// The summary answer: the accepted variants, and hostile answers that must be a `decode` problem (never
/// a trap, never a wrong number on /metrics).
struct SummaryDecodingTests {
    func decode(_ text: String) -> Result<SessionSummary, DecodeProblem> {
        ZuoraResponses.summary(from: Array(text.utf8))
    }

    @Test func theContractsExampleSumsByOperatorAndErrorCode() throws {
        let body = #"""
            {"success": true, "data": [
              {"operatorId": "op-read", "errorCode": null, "outputCount": 900, "errorCount": 0},
              {"operatorId": "op-read", "errorCode": "E_PARSE", "outputCount": 0, "errorCount": 50, "totalCount": 50},
              {"operatorId": "op-write", "errorCode": "E_PARSE", "outputCount": "25", "errorCount": "5"},
              {"errorCode": "E_LOOKUP", "errorCount": 3},
              {"operatorId": 42, "errorCount": 2}
            ]}
            """#
        let summary = try decode(body).get()
        #expect(summary.total == RecordCounts(output: 925, error: 60))
        #expect(
            summary.operators == [
                "op-read": RecordCounts(output: 900, error: 50), "op-write": RecordCounts(output: 25, error: 5),
                "unknown": RecordCounts(output: 0, error: 3), "42": RecordCounts(output: 0, error: 2),
            ]
        )
        #expect(summary.errorCodes == ["E_PARSE": 55, "E_LOOKUP": 3, "unknown": 2], "errors without a code: unknown")
    }

    @Test(arguments: [
        (#"{"success":true,"data":{"operatorId":"a","outputCount":7,"errorCount":1}}"#, "one group as an object"),
        (#"{"success":true,"data":{"groups":[{"operatorId":"a","outputCount":7,"errorCount":1}]}}"#, "groups"),
        (#"{"success":true,"data":{"summary":[{"operatorId":"a","outputCount":7,"errorCount":1}]}}"#, "summary"),
        (#"{"data":{"items":[{"operatorId":"a","outputCount":7.0,"errorCount":"1"}]}}"#, "items, no success"),
        (#"{"success":true,"data":[{"operatorId":"a","outputCount":7,"errorCount":1,"totalCount":999}]}"#, "total"),
        (
            #"{"success":true,"data":[{"operatorId":"a","outputCount":7,"errorCount":1,"sessionId":"S-1","x":[1]}]}"#,
            "unknown keys"
        ),
    ])
    func acceptedVariants(body: String, what: String) throws {
        let summary = try decode(body).get()
        #expect(summary.total == RecordCounts(output: 7, error: 1), "\(what)")
        #expect(summary.operators == ["a": RecordCounts(output: 7, error: 1)], "\(what)")
    }

    @Test func anEmptyListIsASessionWithoutRecords() throws {
        #expect(try decode(#"{"success":true,"data":[]}"#).get() == SessionSummary())
    }

    @Test(arguments: [
        ("", "empty"),
        ("not json", "text"),
        ("[1,2]", "a list"),
        (#"{"success":false,"reasons":[{"code":"50000040","message":"boom"}]}"#, "success false"),
        (#"{"success":true}"#, "no data"),
        (#"{"success":true,"data":null}"#, "data null"),
        (#"{"success":true,"data":{"foo":1}}"#, "an object without counts"),
        (#"{"success":true,"data":[1]}"#, "a group that is a number"),
        (#"{"success":true,"data":{"groups":{"outputCount":1}}}"#, "groups not a list"),
        (#"{"success":true,"data":[{"outputCount":-1}]}"#, "negative"),
        (#"{"success":true,"data":[{"outputCount":1.5}]}"#, "fraction"),
        (#"{"success":true,"data":[{"outputCount":1e30}]}"#, "1e30"),
        (#"{"success":true,"data":[{"outputCount":9007199254740993}]}"#, "2^53 + 1"),
        (#"{"success":true,"data":[{"outputCount":18446744073709551616}]}"#, "2^64"),
        (#"{"success":true,"data":[{"outputCount":"12abc"}]}"#, "a string that is not a number"),
        (#"{"success":true,"data":[{"outputCount":"-5"}]}"#, "a negative string"),
        (#"{"success":true,"data":[{"outputCount":"１２"}]}"#, "non-ASCII digits"),
        (#"{"success":true,"data":[{"outputCount":true}]}"#, "a bool"),
        (#"{"success":true,"data":[{"outputCount":{"n":1}}]}"#, "an object"),
        (#"{"success":true,"data":[{"operatorId":{"a":1},"outputCount":1}]}"#, "an operator id that is an object"),
        (#"{"success":true,"data":[{"errorCode":[1],"errorCount":1}]}"#, "an error code that is a list"),
    ])
    func hostileAnswersAreDecodeProblems(body: String, what: String) {
        guard case .failure(let problem) = decode(body) else {
            Issue.record("\(what) was accepted")
            return
        }
        #expect(!problem.description.isEmpty)
        #expect(problem.description.count < 300, "\(what): the problem is short: \(problem)")
    }

    @Test func exactlyTwoTo53IsTheLargestCount() throws {
        let summary = try decode(#"{"data":[{"outputCount":9007199254740992,"errorCount":"9007199254740992"}]}"#).get()
        #expect(summary.total == RecordCounts(output: 1 << 53, error: 1 << 53))
    }

    @Test func sumsSaturateInsteadOfWrapping() throws {
        let group = #"{"operatorId":"a","outputCount":9007199254740992}"#
        let body = #"{"data":["# + Array(repeating: group, count: 3000).joined(separator: ",") + "]}"
        let summary = try decode(body).get()
        #expect(summary.total.output == .max, "3000 × 2^53 saturates rather than wrapping")
        #expect(summary.operators["a"]?.output == .max)
    }

    @Test func nonASCIIAndControlCharactersInIdsAreKeptAsLabelValues() throws {
        let summary = try decode(#"{"data":[{"operatorId":"öp\n\u0000","errorCode":"E\"1","errorCount":1}]}"#).get()
        #expect(summary.operators["öp\n\u{0}"] == RecordCounts(error: 1))
        #expect(summary.errorCodes["E\"1"] == 1)
    }

    @Test func overlongIdsAreSummedAsOther() throws {
        let long = String(repeating: "x", count: 129)
        let summary = try decode(#"{"data":[{"operatorId":"\#(long)","errorCode":"\#(long)","errorCount":4}]}"#).get()
        #expect(summary.operators == ["other": RecordCounts(error: 4)])
        #expect(summary.errorCodes == ["other": 4])
    }

    @Test func deepNestingIsAProblemNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect((try? decode(#"{"data":\#(deep)}"#).get()) == nil)
        #expect((try? decode(#"{"data":[{"x":\#(deep),"outputCount":1}]}"#).get()) == nil)
    }

    @Test func tenMegabytesDecodeWithinBounds() throws {
        let count = 10_000_000 / 80
        var parts: [String] = []
        for index in 0..<count {
            let id = String(10_000 + index % 10_000)
            parts.append(#"{"operatorId":"op-\#(id)","errorCode":"E_\#(id)","outputCount":1,"errorCount":1}"#)
        }
        let body = #"{"data":["# + parts.joined(separator: ",") + "]}"
        let summary = try decode(body).get()
        #expect(summary.total == RecordCounts(output: UInt64(count), error: UInt64(count)))
        #expect(summary.operators.count == 10_000)
    }

    @Test func thePreviewEscapesControlCharactersAndIsCut() {
        let preview = BodyPreview.of(Array("a\nb\r\u{1B}[31m\\ \u{202E}".utf8) + Array(repeating: 65, count: 500))
        #expect(preview.hasPrefix(#"a\nb\r\u{1B}[31m\\ \u{202E}"#))
        #expect(!preview.unicodeScalars.contains { $0.value < 0x20 })
        #expect(preview.hasSuffix("…"))
        #expect(preview.utf8.count < 240)
    }
}
