import ExpositionParser
import Foundation
import Prometheus
import Testing

@testable import MediationCore

/// "Meter Session Periodic Status Update" callouts: the body, the receiver at its own path with the
/// status callouts' authentication, de-duplication, limits and forwarding, and the series they feed.
struct PeriodicCalloutTests {
    static let path = "/webhooks/meter-session-periodic-status"

    static func body(
        _ meter: Int64 = 101,
        operatorId: String = "op-read",
        session: String = "S-101-1",
        output: String = "900",
        error: String = "50",
        total: String? = "950"
    ) -> String {
        var fields =
            #""meterId": "\#(meter)", "version": "0.0.1", "meterName": "Usage", "operatorId": "\#(operatorId)", "#
            + #""sessionId": "\#(session)", "runType": "NORMAL", "startTime": "2026-11-29T10:00:00Z", "endTime": "", "#
            + #""outputCount": \#(output), "errorCount": \#(error), "errorPercentage": 5.26"#
        if let total { fields += #", "totalCount": \#(total)"# }
        return "{\(fields)}"
    }

    static func request(_ body: String, id: String? = "n-1", basic: Bool = true, path: String = path) -> HTTPRequest {
        var headers = ["Content-Type": "application/json"]
        if basic { headers["Authorization"] = "Basic " + Data("zuora:pw".utf8).base64EncodedString() }
        if let id { headers["Zuora-Notification-Id"] = id }
        return HTTPRequest(method: "POST", path: path, headers: headers, body: Array(body.utf8))
    }

    struct Setup {
        let hub: StatusHub
        let metrics: ExporterMetrics
        let receiver: WebhookReceiver

        func count(_ event: String, _ result: String) -> Double? {
            ParsedExposition(text(metrics.registry.emitToBuffer()))
                .value("zuora_webhook_requests_total", ["event": event, "result": result])
        }

        func value(_ name: String, _ labels: [String: String]) -> Double? {
            ParsedExposition(text(hub.store.body())).value(name, meterLabels(key(101), labels))
        }
    }

    func setup(maxDynamic: Int = 100, maxOperators: Int = 20) -> Setup {
        var config = WebhookConfig()
        config.basicAuth = .init(username: "zuora", passwordFile: "/unused")
        config.maxDynamicMeters = maxDynamic
        let hub = StatusHub(clock: ManualClock(), wallClock: ManualWallClock())
        hub.configure([spec(101)])
        hub.configureRecords(SummaryConfig(maxOperators: maxOperators))
        let metrics = ExporterMetrics(version: "test", revision: "test")
        let receiver = WebhookReceiver(
            config: config,
            secrets: WebhookSecrets(basicPassword: Array("pw".utf8), hmacKey: nil),
            hub: hub,
            metrics: metrics,
            logger: WebhookReceiverTests.quiet
        )
        return Setup(hub: hub, metrics: metrics, receiver: receiver)
    }

    @Test func theTemplatesBodyParses() throws {
        let event = try PeriodicBody.parse(Array(Self.body().utf8)).get()
        #expect(event.key == key(101))
        #expect(event.operatorId == "op-read" && event.sessionId == "S-101-1" && event.meterName == "Usage")
        #expect(event.counts == SnapshotCounts(output: 900, error: 50, total: 950))
        let numbers = try PeriodicBody.parse(Array(Self.body(output: "\"7\"", error: "3", total: nil).utf8)).get()
        #expect(numbers.counts == SnapshotCounts(output: 7, error: 3, total: 10), "total defaults to output + error")
    }

    @Test(arguments: [
        ("", "empty"), ("[]", "a list"), (#"{"sessionId":"s"}"#, "no meterId"),
        (#"{"meterId":101}"#, "no sessionId"), (#"{"meterId":0,"sessionId":"s"}"#, "meterId 0"),
        (#"{"meterId":-5,"sessionId":"s"}"#, "negative meterId"),
        (#"{"meterId":101,"sessionId":"s","outputCount":-1}"#, "negative count"),
        (#"{"meterId":101,"sessionId":"s","outputCount":1e30}"#, "1e30"),
        (#"{"meterId":101,"sessionId":"s","errorCount":9007199254740993}"#, "over 2^53"),
        (#"{"meterId":101,"sessionId":"s","totalCount":"lots"}"#, "a word"),
        (#"{"meterId":101,"sessionId":"s","outputCount":{"a":1}}"#, "an object"),
        (#"{"meterId":101,"sessionId":"s","operatorId":{"a":1}}"#, "operatorId an object"),
        (#"{"meterId":101,"sessionId":"s","operatorId":"\#(String(repeating: "o", count: 129))"}"#, "operatorId 129 B"),
        (#"{"meterId":101,"sessionId":"\#(String(repeating: "s", count: 129))"}"#, "sessionId 129 B"),
        (#"{"meterId":101,"sessionId":"s","version":"\#(String(repeating: "v", count: 65))"}"#, "version 65 B"),
        (String(repeating: "[", count: 50_000), "deep nesting"),
    ])
    func hostileBodiesAre400AndChangeNothing(body: String, what: String) {
        let setup = setup()
        let answer = setup.receiver.respond(to: Self.request(body))
        #expect(answer.status == 400, "\(what)")
        #expect(!text(answer.body).contains("\n"), "\(what)")
        #expect(setup.count("periodic_status", "invalid") == 1)
        #expect(setup.hub.state(of: key(101))?.records.running == nil)
    }

    @Test func controlCharactersAndNonASCIIInAnOperatorIdAreEscapedOnMetrics() throws {
        let setup = setup()
        let answer = setup.receiver.respond(to: Self.request(Self.body(operatorId: #"öp\"\n\u0000"#)))
        #expect(answer.status == 200)
        let exposition = text(setup.hub.store.body())
        #expect(
            ParsedExposition(exposition).value(
                "zuora_meter_session_operator_records",
                meterLabels(key(101), ["operator_id": "öp\"\n\u{0}", "outcome": "output"])
            ) == 900
        )
    }

    @Test func snapshotsShowPerOperatorAndVanishWhenTheSessionEnds() {
        let setup = setup()
        #expect(setup.receiver.respond(to: Self.request(Self.body(), id: "n-1")).status == 200)
        #expect(
            setup.receiver.respond(
                to: Self.request(Self.body(operatorId: "op-write", output: "5", error: "0", total: nil), id: "n-2")
            ).status == 200
        )
        #expect(
            setup.value("zuora_meter_session_operator_records", ["operator_id": "op-read", "outcome": "total"]) == 950
        )
        #expect(
            setup.value("zuora_meter_session_operator_records", ["operator_id": "op-write", "outcome": "output"]) == 5
        )
        #expect(setup.value("zuora_meter_session_last_update_timestamp_seconds", [:]) == ManualWallClock().now())
        #expect(setup.count("periodic_status", "accepted") == 2)
        #expect(setup.count("status_change", "accepted") == 0)
        // The end, seen by a poll: the series go.
        setup.hub.record(ok(key(101), 5, at: 1))
        setup.hub.record(ok(key(101), 8, at: 2))
        #expect(
            setup.value("zuora_meter_session_operator_records", ["operator_id": "op-read", "outcome": "total"]) == nil
        )
        #expect(setup.value("zuora_meter_session_last_update_timestamp_seconds", [:]) == nil)
    }

    @Test func aRetryWithTheSameNotificationIdIsCountedOnce() {
        let setup = setup()
        #expect(setup.receiver.respond(to: Self.request(Self.body(), id: "n-7")).status == 200)
        let retry = setup.receiver.respond(to: Self.request(Self.body(output: "999"), id: "n-7"))
        #expect(text(retry.body).contains("duplicate"))
        #expect(setup.count("periodic_status", "accepted") == 1)
        #expect(setup.count("periodic_status", "duplicate") == 1)
        #expect(
            setup.value("zuora_meter_session_operator_records", ["operator_id": "op-read", "outcome": "output"]) == 900
        )
    }

    @Test func theSameAuthenticationAsStatusCallouts() {
        let setup = setup()
        let anonymous = setup.receiver.respond(to: Self.request(Self.body(), basic: false))
        #expect(anonymous.status == 401)
        #expect(anonymous.header("WWW-Authenticate")?.hasPrefix("Basic") == true, "Zuora's challenge")
        #expect(setup.count("periodic_status", "unauthorized") == 1)
        var get = Self.request(Self.body())
        get.method = "GET"
        #expect(setup.receiver.respond(to: get).status == 405)
        #expect(setup.receiver.respond(to: Self.request(Self.body())).status == 200, "then with credentials")
    }

    @Test func anOversizedBodyIsRefusedFromItsHead() {
        let setup = setup()
        var head = Self.request("")
        head.headers["content-length"] = "99999999"
        guard case .refuse(let refusal) = setup.receiver.admit(head) else {
            Issue.record("admitted")
            return
        }
        #expect(refusal.status == 413)
        #expect(setup.count("periodic_status", "invalid") == 1)
    }

    @Test func unconfiguredMetersFollowTheDynamicMeterLimit() {
        let setup = setup(maxDynamic: 1)
        #expect(text(setup.receiver.respond(to: Self.request(Self.body(900), id: "a")).body).contains("accepted"))
        #expect(text(setup.receiver.respond(to: Self.request(Self.body(901), id: "b")).body).contains("dropped"))
        #expect(setup.hub.state(of: key(900))?.isConfigured == false)
        #expect(setup.hub.state(of: key(901)) == nil)
    }

    /// Past the limit and past the overflow memory (1,000 ids); 10,000 ids from the simulator are the
    /// process-level test's (each callout here is a whole request: 10,000 take a minute under TSan).
    @Test func operatorIdsPastTheOverflowMemoryKeepTheMeterWithinTheLimit() {
        let setup = setup(maxOperators: 5)
        for index in 0..<(RunningSnapshot.overflowMemory + 500) {
            _ = setup.receiver.respond(to: Self.request(Self.body(operatorId: "op-\(index)"), id: "n-\(index)"))
        }
        let operators = Set(
            ParsedExposition(text(setup.hub.store.body())).samples("zuora_meter_session_operator_records")
                .compactMap { $0.labels["operator_id"] }
        )
        #expect(operators.count == 6, "5 operators and other")
        #expect(operators.contains("other"))
    }

    @Test func aPeriodicCalloutForAnotherShardIsForwardedWithItsPath() {
        let replicas = CalloutForwardingTests.pair()
        let foreign = CalloutForwardingTests.meter(ownedBy: 1)
        var request = Self.request(Self.body(foreign))
        request.headers["content-type"] = "application/json"
        let answer = replicas[0].receiver.respond(to: request)
        #expect(answer.status == 200 && text(answer.body).contains("accepted"), "\(text(answer.body))")
        #expect(replicas[1].hub.state(of: key(foreign))?.records.running?.operators["op-read"] != nil)
        #expect(replicas[0].hub.state(of: key(foreign)) == nil)
        #expect(replicas[1].count(#"zuora_webhook_requests_total{event="periodic_status",result="accepted"}"#) == 1)
    }
}
