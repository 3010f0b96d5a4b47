import Foundation
import MediationCore
import SimulatorCore
import Testing

/// The simulator answers as the API reference and the notes in shared/ say Zuora does.
struct ZuoraSimulatorTests {
    let simulator = ZuoraSimulator(
        settings: .init(clientId: "id", clientSecret: "s3cret", tokenLifetime: 60),
        meters: [MeterKey(meterId: 101, version: "0.0.1"), MeterKey(meterId: 102, version: "1.0/b")],
        now: 1000
    )

    func token(at now: Double = 1000) throws -> String {
        let body = Array("client_id=id&client_secret=s3cret&grant_type=client_credentials".utf8)
        let answer = simulator.respond(to: HTTPRequest(method: "POST", path: "/oauth/token", body: body), now: now)
        #expect(answer.response.status == 200)
        return try ZuoraResponses.token(from: answer.response.body).get().token
    }

    func runStatus(_ path: String, token: String?, at now: Double = 1000) -> HTTPResponse {
        let headers = token.map { ["Authorization": "Bearer \($0)", "Zuora-Track-Id": "job-7"] } ?? [:]
        return simulator.respond(to: HTTPRequest(method: "GET", path: path, headers: headers), now: now).response
    }

    @Test func issuesTokensOnlyForTheRightCredentials() throws {
        let body = Array("client_id=id&client_secret=wrong&grant_type=client_credentials".utf8)
        let refused = simulator.respond(to: HTTPRequest(method: "POST", path: "/oauth/token", body: body), now: 1000)
        #expect(refused.response.status == 401)
        let answer = try #require(
            String(
                validating: simulator.respond(
                    to: HTTPRequest(
                        method: "POST",
                        path: "/oauth/token",
                        body: Array("client_id=id&client_secret=s3cret&grant_type=client_credentials".utf8)
                    ),
                    now: 1000
                ).response.body,
                as: UTF8.self
            )
        )
        #expect(answer.contains(#""token_type":"bearer""#) && answer.contains(#""expires_in":60"#))
    }

    @Test func answersRunStatusWithTheDocumentedBody() throws {
        let token = try token()
        let response = runStatus("/meters/101/0.0.1/runStatus", token: token)
        #expect(response.status == 200)
        #expect(try ZuoraResponses.runStatus(from: response.body).get() == RunStatus(code: 1))
        #expect(response.header("Zuora-Request-Id") != nil)
        #expect(response.header("Zuora-Track-Id") == "job-7", "the track id is echoed")
        let encoded = runStatus("/meters/102/1.0%2Fb/runStatus", token: token)
        #expect(encoded.status == 200, "a percent-encoded version finds its meter")
    }

    @Test func refusesMissingAndExpiredTokensWith401() throws {
        #expect(runStatus("/meters/101/0.0.1/runStatus", token: nil).status == 401)
        #expect(runStatus("/meters/101/0.0.1/runStatus", token: "forged").status == 401)
        let token = try token(at: 1000)
        #expect(runStatus("/meters/101/0.0.1/runStatus", token: token, at: 1059).status == 200)
        #expect(runStatus("/meters/101/0.0.1/runStatus", token: token, at: 1061).status == 401, "expired after 60 s")
    }

    @Test func unknownMetersAndVersionsGetTheDocumented404Codes() throws {
        let token = try token()
        let meter = runStatus("/meters/555/0.0.1/runStatus", token: token)
        #expect(meter.status == 404)
        #expect(ZuoraResponses.errorSummary(from: meter.body)?.contains("70002103") == true)
        let version = runStatus("/meters/101/9.9.9/runStatus", token: token)
        #expect(ZuoraResponses.errorSummary(from: version.body)?.contains("70002104") == true)
        let badId = runStatus("/meters/abc/0.0.1/runStatus", token: token)
        #expect(badId.status == 400)
    }

    @Test func controlAPISetsStatusesAndInjectsCountedFaults() throws {
        let token = try token()
        func control(_ method: String, _ path: String, _ body: String) -> Int {
            simulator.respond(
                to: HTTPRequest(method: method, path: "/_control/" + path, body: Array(body.utf8)),
                now: 1000
            )
            .response.status
        }
        #expect(control("POST", "meters/101/0.0.1/status", #"{"status":"FAILED"}"#) == 200)
        #expect(
            try ZuoraResponses.runStatus(from: runStatus("/meters/101/0.0.1/runStatus", token: token).body).get().code
                == 8
        )
        #expect(control("POST", "meters/101/0.0.1/status", #"{"status":"NOPE"}"#) == 400)
        #expect(control("POST", "meters/101/0.0.1/fault", #"{"status":503,"count":2,"retryAfter":7}"#) == 200)
        let faulted = runStatus("/meters/101/0.0.1/runStatus", token: token)
        #expect(faulted.status == 503 && faulted.header("Retry-After") == "7")
        #expect(runStatus("/meters/101/0.0.1/runStatus", token: token).status == 503)
        #expect(runStatus("/meters/101/0.0.1/runStatus", token: token).status == 200, "the fault is used up after 2")
        #expect(control("POST", "tokens/revoke", "") == 200)
        #expect(runStatus("/meters/101/0.0.1/runStatus", token: token).status == 401)
    }

    @Test func lifecycleRunsThroughZuorasStatusesAndSometimesFails() {
        var seen: Set<Int> = []
        var transitions: Set<[Int]> = []
        for seed in UInt64(1)...20 {
            var meter = SimulatedMeter(seed: seed, now: 0, step: 1)
            var previous = meter.status.code
            for second in 1...40 {
                meter.advance(to: Double(second), step: 1)
                seen.insert(meter.status.code)
                if meter.status.code != previous { transitions.insert([previous, meter.status.code]) }
                previous = meter.status.code
            }
        }
        #expect(
            seen.isSuperset(of: [10, 5, 11, 12, 7, 8]),
            "INITIALIZING, RUNNING, USAGE_PUSHING, PUSH_COMPLETED, COMPLETED, FAILED"
        )
        #expect(transitions.contains([1, 10]) && transitions.contains([5, 11]) && transitions.contains([12, 7]))
        #expect(!transitions.contains([1, 7]), "no run skips straight to COMPLETED")
    }
}
