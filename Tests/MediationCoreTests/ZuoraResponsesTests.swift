import Testing

@testable import MediationCore

/// Bodies as the API reference and the notes describe them, and the ones Zuora should not send but might.
struct ZuoraResponsesTests {
    func status(_ body: String) -> Result<RunStatus, DecodeProblem> { ZuoraResponses.runStatus(from: Array(body.utf8)) }

    func expectFailure(
        _ body: String,
        mentioning word: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        switch status(body) {
        case .success(let status):
            Issue.record("\(body) decoded as \(status)", sourceLocation: sourceLocation)
        case .failure(let problem):
            if let word {
                #expect(problem.description.contains(word), "\(problem)", sourceLocation: sourceLocation)
            }
        }
    }

    @Test(arguments: Array(1...13) + [42, 0, -1])
    func aSuccessfulBodyGivesItsCode(code: Int) throws {
        let body = #"{"success": true, "data": {"runStatus": \#(code), "runStatusDescription": "x"}}"#
        #expect(try status(body).get() == RunStatus(code: code))
    }

    @Test(arguments: [#""5""#, #"" 5 ""#, "5.0"])
    func aCodeAsAStringOrAWholeFloatIsAccepted(json: String) throws {
        #expect(try status(#"{"success": true, "data": {"runStatus": \#(json)}}"#).get().code == 5)
    }

    @Test func missingSuccessWithAStatusIsAccepted() throws {
        #expect(try status(#"{"data": {"runStatus": 7}}"#).get().code == 7)
    }

    @Test func successFalseIsAFailureCarryingZuorasError() {
        expectFailure(
            #"{"success": false, "error": {"code": "70002103", "message": "METER_NOT_EXISTING"}}"#,
            mentioning: "70002103"
        )
        expectFailure(#"{"success": false, "data": {"runStatus": 5}}"#, mentioning: "success")
    }

    @Test(arguments: [
        #"{"success": true}"#, #"{"success": true, "data": {}}"#, #"{"success": true, "data": null}"#,
        #"{"success": true, "data": {"runStatus": null}}"#, #"{"success": true, "data": {"runStatus": 5.5}}"#,
        #"{"success": true, "data": {"runStatus": true}}"#, #"{"success": true, "data": {"runStatus": "five"}}"#,
        #"{"success": true, "data": {"runStatus": [5]}}"#, #"{"success": true, "data": {"runStatus": 1e20}}"#,
        #"{"success": true, "data": "RUNNING"}"#,
    ])
    func aBodyWithoutAnIntegerStatusIsAFailure(body: String) {
        expectFailure(body, mentioning: "runStatus")
    }

    @Test(arguments: ["", "not json", "<html>502 Bad Gateway</html>", "[1, 2]", "5", "null", #"{"success": tr"#])
    func aBodyThatIsNotAJSONObjectIsAFailure(body: String) {
        expectFailure(body)
    }

    @Test func errorsArrayOf400() {
        let body = #"{"success": false, "errors": [{"code": "INVALID_VALUE", "message": "bad version"}]}"#
        let summary = ZuoraResponses.errorSummary(from: Array(body.utf8))
        #expect(summary?.contains("INVALID_VALUE") == true)
        #expect(summary?.contains("bad version") == true)
    }

    @Test func errorObjectOf404WithData() {
        let body = """
            {"success": false, "data": {"id": "i-1", "meterId": 101, "version": "0.0.1", "status": 3},
             "error": {"code": "70002104", "message": "METER_VERSION_NOT_EXISTING"}}
            """
        let summary = ZuoraResponses.errorSummary(from: Array(body.utf8))
        #expect(summary?.contains("70002104") == true)
        #expect(summary?.contains("METER_VERSION_NOT_EXISTING") == true)
    }

    @Test func reasonsOf500AndOfV1PathsWithANumericCode() {
        let five = #"{"reasons": [{"code": "ObjectNotFound", "message": "no such thing"}]}"#
        let summary = ZuoraResponses.errorSummary(from: Array(five.utf8))
        #expect(summary?.contains("ObjectNotFound") == true)
        #expect(summary?.contains("no such thing") == true)
        let v1 = #"{"success": false, "processId": "P1", "reasons": [{"code": 53100020, "message": "expired"}]}"#
        let numeric = ZuoraResponses.errorSummary(from: Array(v1.utf8))
        #expect(numeric?.contains("53100020") == true)
        #expect(numeric?.contains("expired") == true)
    }

    @Test func severalItemsAreAllKept() {
        let body = #"{"errors": [{"code": "A1", "message": "first"}, {"code": "B2", "message": "second"}]}"#
        let summary = ZuoraResponses.errorSummary(from: Array(body.utf8)) ?? ""
        for word in ["A1", "first", "B2", "second"] { #expect(summary.contains(word), "\(summary)") }
    }

    @Test(arguments: [
        "", "garbage", "<html></html>", "{}", #"{"success": false}"#, #"{"errors": []}"#, #"{"errors": "x"}"#,
        #"{"error": {}}"#, "[]",
    ])
    func bodiesWithoutAnErrorGiveNoSummary(body: String) {
        #expect(ZuoraResponses.errorSummary(from: Array(body.utf8)) == nil)
    }

    @Test func aTokenBodyGivesTheTokenAndItsLifetime() throws {
        let body = #"""
            {"access_token": "abc.def", "token_type": "bearer", "expires_in": 3599,
             "scope": "user.1 entity.2 tenant.19", "jti": "j"}
            """#
        let token = try ZuoraResponses.token(from: Array(body.utf8)).get()
        #expect(token.token == "abc.def")
        #expect(token.expiresIn == 3599)
        let short = try ZuoraResponses.token(from: Array(#"{"access_token": "t", "expires_in": "10"}"#.utf8)).get()
        #expect(short.expiresIn == 10)
    }

    @Test(arguments: [
        "", "nope", "{}", #"{"access_token": ""}"#, #"{"access_token": "t", "expires_in": 0}"#,
        #"{"access_token": "t", "expires_in": -5}"#, #"{"token_type": "bearer", "expires_in": 3599}"#,
    ])
    func anUnusableTokenBodyIsAFailure(body: String) {
        if case .success(let token) = ZuoraResponses.token(from: Array(body.utf8)) {
            Issue.record("\(body) gave token \(token)")
        }
    }
}
