import Foundation
import MediationCore
import SimulatorCore
import Testing

/// `POST /meters/{meterId}/summary`: grouping, filters, Zuora's error answers, faults, hostile bodies.
struct SummaryTests {
    let simulator = ZuoraSimulator(
        settings: .init(clientId: "id", clientSecret: "s3cret", tokenLifetime: 600),
        meters: [MeterKey(meterId: 101, version: "0.0.1"), MeterKey(meterId: 101, version: "2.0")],
        now: 1000
    )

    func token() throws -> String {
        let body = Array("client_id=id&client_secret=s3cret&grant_type=client_credentials".utf8)
        let answer = simulator.respond(to: HTTPRequest(method: "POST", path: "/oauth/token", body: body), now: 1000)
        return try ZuoraResponses.token(from: answer.response.body).get().token
    }

    @discardableResult
    func control(_ path: String, _ body: String, at now: Double = 1000) -> Int {
        simulator.respond(
            to: HTTPRequest(method: "POST", path: "/_control/" + path, body: Array(body.utf8)),
            now: now
        ).response.status
    }

    func summary(_ body: String, meter: String = "101", token: String?, at now: Double = 1100) -> HTTPResponse {
        let headers = token.map { ["Authorization": "Bearer \($0)", "Content-Type": "application/json"] } ?? [:]
        return simulator.respond(
            to: HTTPRequest(method: "POST", path: "/meters/\(meter)/summary", headers: headers, body: Array(body.utf8)),
            now: now
        ).response
    }

    /// The groups of a 200 answer.
    func groups(_ response: HTTPResponse) throws -> [[String: Any]] {
        #expect(response.status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        #expect(object["success"] as? Bool == true)
        return try #require(object["data"] as? [[String: Any]])
    }

    func sum(_ groups: [[String: Any]], _ field: String) -> Int { groups.reduce(0) { $0 + ($1[field] as? Int ?? 0) } }

    @Test func aPinnedFailedRunIsSummarisedPerOperatorAndErrorCode() throws {
        let token = try token()
        #expect(control("meters/101/0.0.1/status", #"{"status":"RUNNING"}"#, at: 1000) == 200)
        #expect(control("meters/101/0.0.1/status", #"{"status":"FAILED"}"#, at: 1030) == 200)
        let body = #"{"groupBy":["operatorId","errorCode"],"sessionIds":["S-101-1"]}"#
        let data = try groups(summary(body, token: token))
        #expect(Set(data.compactMap { $0["operatorId"] as? String }) == ["op-read", "op-transform", "op-write"])
        let errorGroups = data.filter { $0["errorCode"] is String }
        #expect(!errorGroups.isEmpty && errorGroups.allSatisfy { ($0["outputCount"] as? Int) == 0 })
        let outputGroups = data.filter { $0["errorCode"] is NSNull }
        #expect(outputGroups.count == 3 && outputGroups.allSatisfy { ($0["errorCount"] as? Int) == 0 })
        #expect(sum(data, "errorCount") > sum(data, "outputCount") / 2, "a failed run has many errors")
        #expect(
            data.allSatisfy { ($0["totalCount"] as? Int) == ($0["outputCount"] as! Int) + ($0["errorCount"] as! Int) }
        )
        #expect(data.allSatisfy { $0["sessionId"] == nil }, "only the asked keys")
        // The same records ungrouped, by one key given as a string, and filtered by operator.
        let total = try groups(summary(#"{"sessionIds":["S-101-1"]}"#, token: token))
        #expect(total.count == 1 && sum(total, "errorCount") == sum(data, "errorCount"))
        let byCode = try groups(summary(#"{"groupBy":"errorCode","sessionIds":["S-101-1"]}"#, token: token))
        #expect(
            byCode.contains {
                $0["errorCode"] as? String == "E_VALIDATION" || $0["errorCode"] as? String == "E_TIMEOUT"
            }
        )
        let one = try groups(summary(#"{"groupBy":["operatorId"],"operatorIds":["op-write"]}"#, token: token))
        #expect(one.count == 1 && one[0]["operatorId"] as? String == "op-write")
    }

    @Test func sessionsAreChosenByIdOrByTheTimeWindowAcrossVersions() throws {
        let token = try token()
        control("meters/101/0.0.1/status", #"{"status":"RUNNING"}"#, at: 1000)
        control("meters/101/0.0.1/status", #"{"status":"COMPLETED"}"#, at: 1010)
        control("meters/101/2.0/status", #"{"status":"RUNNING"}"#, at: 1050)
        let window = { (from: String, to: String) in
            #"{"groupBy":["sessionId"],"queryFromTime":"\#(from)","queryToTime":"\#(to)"}"#
        }
        // 1000 s after the epoch is 1970-01-01T00:16:40Z.
        let first = try groups(summary(window("1970-01-01T00:16:00Z", "1970-01-01T00:16:45Z"), token: token))
        #expect(first.map { $0["sessionId"] as? String } == ["S-101-1"])
        let later = try groups(summary(window("1970-01-01T00:17:00Z", "1970-01-01T00:20:00Z"), token: token))
        #expect(later.map { $0["sessionId"] as? String } == ["S-101-2"], "version 2.0's run: numbered per meter")
        let both = try groups(summary(window("1970-01-01T00:16:45Z", "1970-01-01T00:20:00Z"), token: token))
        #expect(both.count == 2, "overlap, not containment")
        let all = try groups(summary(#"{"groupBy":["sessionId"]}"#, token: token))
        #expect(all.count == 2, "both versions' sessions share the meter's summary")
        let none = try groups(summary(#"{"sessionIds":["S-999-1"]}"#, token: token))
        #expect(none.isEmpty, "no session, no group")
    }

    @Test func answersZuorasErrorsFor401404And400() throws {
        let token = try token()
        #expect(summary("{}", token: nil).status == 401)
        #expect(summary("{}", token: "forged").status == 401)
        let unknown = summary("{}", meter: "555", token: token)
        #expect(unknown.status == 404)
        #expect(ZuoraResponses.errorSummary(from: unknown.body)?.contains("70002103") == true)
        #expect(summary("{}", meter: "abc", token: token).status == 400)
        let bad = summary(#"{"groupBy":["meterId"]}"#, token: token)
        #expect(bad.status == 400)
        let text = String(decoding: bad.body, as: UTF8.self)
        #expect(text.hasPrefix(#"{"success":false,"reasons":[{"code":"#) && text.contains("groupBy"))
        #expect(bad.header("Zuora-Request-Id") != nil)
    }

    /// Hostile and invalid bodies are refused with 400 (or read as harmless), never a trap.
    @Test(arguments: [
        (#"{"groupBy":"operatorId","queryFromTime":"2026-01-02T00:00:00Z","queryToTime":"2026-01-01T00:00:00Z"}"#, 400),
        (#"{"queryFromTime":"yesterday"}"#, 400),
        (#"{"queryFromTime":1e400}"#, 400),
        (#"{"queryToTime":"2026-13-01T00:00:00Z"}"#, 400),
        (#"{"sessionIds":"S-101-1"}"#, 400),
        (#"{"sessionIds":[1,2]}"#, 400),
        (#"{"sessionIds":[["S-101-1"]]}"#, 400),
        (#"{"operatorIds":{"a":1}}"#, 400),
        (#"{"groupBy":["opérateur\u0000\u001b"]}"#, 400),
        (#"{"groupBy":123456789012345678901234567890}"#, 400),
        (#"{"groupBy":true}"#, 400),
        (#"["groupBy"]"#, 400),
        ("not json \u{1}\u{7f}", 400),
        (#"{"groupBy":["operatorId"]"#, 400),
        (#"{"sessionIds":["\#(String(repeating: "é", count: 300))"]}"#, 400),
        (#"{"deep":\#(String(repeating: "[", count: 5000))\#(String(repeating: "]", count: 5000))}"#, 400),
        (#"{"groupBy":\#(String(repeating: "[", count: 100))\#(String(repeating: "]", count: 100))}"#, 400),
        (#"{"unknownKey":"\#(String(repeating: "x", count: 100_000))","groupBy":null}"#, 200),
        (#"{"operatorIds":["\u0000","é","💥"],"groupBy":["errorCode","errorCode"]}"#, 200),
        ("", 200),
        ("  \n", 200),
    ])
    func hostileBodies(body: String, status: Int) throws {
        let token = try token()
        control("meters/101/0.0.1/status", #"{"status":"FAILED"}"#)
        #expect(summary(body, token: token).status == status)
    }

    @Test func faultsTargetSummaryRequestsAndStatsCountThem() throws {
        let token = try token()
        #expect(control("fault", #"{"target":"summary","status":500,"count":2}"#) == 200)
        #expect(summary("{}", token: token).status == 500)
        #expect(summary("{}", token: token).status == 500)
        #expect(summary("{}", token: token).status == 200, "used up after 2")
        let runStatus = simulator.respond(
            to: HTTPRequest(
                method: "GET",
                path: "/meters/101/0.0.1/runStatus",
                headers: ["Authorization": "Bearer \(token)"]
            ),
            now: 1100
        )
        #expect(runStatus.response.status == 200, "a summary fault leaves runStatus alone")
        #expect(control("fault", #"{"target":"summary","reset":true,"delay":2}"#) == 200)
        let answer = simulator.respond(
            to: HTTPRequest(method: "POST", path: "/meters/101/summary", headers: ["Authorization": "Bearer \(token)"]),
            now: 1100
        )
        #expect(answer.breakoff == .closeWithoutAnswer && answer.delay == 2)
        #expect(control("fault", #"{"target":"nowhere","status":500}"#) == 400)
        #expect(
            simulator.respond(to: HTTPRequest(method: "DELETE", path: "/_control/faults"), now: 1100).response.status
                == 200
        )
        #expect(summary("{}", token: token).status == 200)
        let stats = simulator.respond(to: HTTPRequest(method: "GET", path: "/_control/stats"), now: 1100).response
        let object = try #require(try JSONSerialization.jsonObject(with: Data(stats.body)) as? [String: Any])
        #expect(object["summaryRequests"] as? Int == 5)
        for key in ["calloutsSent", "calloutAttempts", "calloutsFailed", "calloutsDropped", "runStatusRequests"] {
            #expect(object[key] is Int, "\(key)")
        }
    }

    @Test func tenThousandOperatorsFromAHostileTenant() throws {
        let token = try token()
        #expect(control("meters/101/0.0.1/records", #"{"operators":10000,"errorRate":0.5}"#) == 200)
        #expect(control("meters/101/0.0.1/records", #"{"operators":100001}"#) == 400)
        #expect(control("meters/101/0.0.1/records", #"{"errorRate":1.5}"#) == 400)
        control("meters/101/0.0.1/status", #"{"status":"FAILED"}"#)
        let data = try groups(summary(#"{"groupBy":["operatorId"],"sessionIds":["S-101-1"]}"#, token: token))
        #expect(data.count == 10_000)
        #expect(Set(data.compactMap { $0["operatorId"] as? String }).count == 10_000)
    }
}
