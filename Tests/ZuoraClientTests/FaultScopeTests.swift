import MediationCore
import Testing

@testable import ZuoraClient

/// What each failed runStatus request reports: its reason, whether the whole tenant is at fault, its
/// latency, and a message of bounded length.
@Suite struct FaultScopeTests {
    static func answer(_ response: CurlResponse) async -> (FetchResult, Harness) {
        let h = Harness(fake: FakeTransport(runStatus: { _ in .success(response) }))
        return (await h.fetch(), h)
    }

    @Test(arguments: [
        (429, PollErrorReason.rateLimited, FaultScope.tenant), (503, .serverError, .tenant),
        (404, .notFound, .meter), (400, .badRequest, .meter), (500, .serverError, .meter),
        (502, .serverError, .meter), (504, .timeout, .meter), (403, .auth, .meter),
    ])
    func httpStatuses(status: Int, reason: PollErrorReason, scope: FaultScope) async {
        let (result, _) = await Self.answer(
            .json(status, #"{"success":false,"error":{"code":"70002103","message":"m"}}"#)
        )
        #expect(result.reason == reason, "HTTP \(status)")
        #expect(result.scope == scope, "HTTP \(status)")
        #expect(result.message.contains("HTTP \(status): code 70002103: m"))
    }

    @Test func anExhaustedAllowanceMakesAnyFailureATenantFault() async {
        let (result, _) = await Self.answer(
            .json(500, "{}", headers: ["ratelimit-remaining": "0", "ratelimit-reset": "7"])
        )
        #expect(result.reason == .serverError)
        #expect(result.scope == .tenant)
    }

    @Test(arguments: [
        (CurlFailure.Kind.unreachable, PollErrorReason.network, FaultScope.tenant), (.timeout, .timeout, .meter),
        (.network, .network, .meter), (.bodyTooLarge, .decode, .meter), (.badEncoding, .decode, .meter),
        (.refused, .badRequest, .meter),
    ])
    func requestsWithoutAnswer(kind: CurlFailure.Kind, reason: PollErrorReason, scope: FaultScope) async {
        let h = Harness(fake: FakeTransport(runStatus: { _ in .failure(CurlFailure(kind, "detail", seconds: 2.5)) }))
        let result = await h.fetch()
        #expect(result.reason == reason)
        #expect(result.scope == scope)
        // The latency curl measured, not 0.
        #expect(h.exposition().contains(#"zuora_api_request_duration_seconds_sum{endpoint="run_status"} 2.5"#))
        #expect(h.exposition().contains(#"zuora_api_requests_total{endpoint="run_status",code="0"} 1"#))
    }

    @Test func runStatusAnswersDecode() async {
        for (body, code) in [
            (#"{"success":true,"data":{"runStatus":7,"runStatusDescription":"COMPLETED"}}"#, 7),
            (#"{"success":true,"data":{"runStatus":"42"}}"#, 42),  // an unknown code is exposed, not refused
            (#"{"data":{"runStatus":13}}"#, 13),
        ] {
            let (result, _) = await Self.answer(.json(200, body))
            #expect(result.result == .status(RunStatus(code: code)), "\(body)")
        }
    }

    @Test func unusableAnswersAreDecodeFaultsOfTheMeter() async {
        for body in ["", "null", "[]", #"{"success":false,"errors":[{"code":"1","message":"x"}]}"#, #"{"data":{}}"#] {
            let (result, _) = await Self.answer(.json(200, body))
            #expect(result.reason == .decode, "\(body)")
            #expect(result.scope == .meter)
        }
    }

    @Test func errorShapesAllReachTheMessage() async {
        let shapes = [
            (#"{"success":false,"errors":[{"code":"E1","message":"bad input"}]}"#, "code E1: bad input"),
            (
                #"{"success":false,"error":{"code":"70002006","message":"unauthorized"},"data":{}}"#,
                "code 70002006: unauthorized"
            ),
            (#"{"reasons":[{"code":"R","message":"oops"}]}"#, "code R: oops"),
            (#"{"success":false,"processId":"p","reasons":[{"code":53100020,"message":"num"}]}"#, "code 53100020: num"),
            ("not json", "no error details in the body"),
        ]
        for (body, text) in shapes {
            let (result, _) = await Self.answer(.json(500, body, headers: ["zuora-request-id": "rid-1"]))
            #expect(result.message == "HTTP 500: \(text) (Zuora-Request-Id rid-1)", "\(body)")
        }
    }

    @Test func zuoraErrorTextsAreCappedAndFlattened() async {
        let long = String(repeating: "x", count: 5000)
        let (result, _) = await Self.answer(
            .json(
                500,
                #"{"reasons":[{"code":"R","message":"line1\nline2 \#(long)"}]}"#,
                headers: ["zuora-request-id": String(repeating: "r", count: 10_000)]
            )
        )
        #expect(result.message.count < 200 + 100 + 60)
        #expect(result.message.contains("line1 line2 "), "no line breaks reach a log line")
        #expect(result.message.contains("…"))
    }

    @Test func aHugeBodyIsHandled() async {
        let huge =
            "{\"reasons\":[" + Array(repeating: #"{"code":"1","message":"m"}"#, count: 40_000).joined(separator: ",")
            + "]}"
        let (result, _) = await Self.answer(.json(500, huge))
        #expect(result.reason == .serverError)
        #expect(result.message.count <= 200 + 20)
        let (decoded, _) = await Self.answer(.json(200, String(repeating: "[", count: 100_000)))
        #expect(decoded.reason == .decode)
    }

    @Test func aHeaderWithALineBreakIsNeverSent() async {
        let refused = await CurlTransport(userAgent: "t", capturedHeaders: [], slots: 0).perform(
            CurlRequest(
                method: "GET",
                url: "http://127.0.0.1:9/",
                headers: ["Zuora-Track-Id: t\r\nX-Evil: 1"],
                timeout: 1
            )
        )
        #expect(refused == .failure(CurlFailure(.refused, "refused to send a request header containing CR, LF or NUL")))
        for header in ["A: b\rc", "A: b\nc", "A: b\u{0}c"] {
            #expect(CurlRequest(method: "GET", url: "u", headers: [header], timeout: 1).refusal != nil)
        }
        #expect(CurlRequest(method: "GET", url: "http://x/\r\n", headers: [], timeout: 1).refusal != nil)
        #expect(CurlRequest(method: "GET", url: "http://x/", headers: ["A: b"], timeout: 1).refusal == nil)
    }
}
