import Foundation
import MediationCore
import SimulatorCore
import Testing

/// What the simulator calls out, in the bodies the exporter's README documents, and its callout flags.
struct CalloutEventsTests {
    func simulator(step: Double? = nil, periodic: Double? = nil) -> ZuoraSimulator {
        var settings = ZuoraSimulator.Settings(clientId: "id", clientSecret: "s", step: step)
        settings.statusEvents = true
        settings.periodicInterval = periodic
        return ZuoraSimulator(settings: settings, meters: [MeterKey(meterId: 101, version: "0.0.1")], now: 0)
    }

    func pin(_ simulator: ZuoraSimulator, _ status: String, at now: Double) {
        let request = HTTPRequest(
            method: "POST",
            path: "/_control/meters/101/0.0.1/status",
            body: Array(#"{"status":"\#(status)"}"#.utf8)
        )
        #expect(simulator.respond(to: request, now: now).response.status == 200)
    }

    @Test func everyLifecycleChangeIsAStatusCalloutTheExporterAccepts() throws {
        let simulator = simulator(step: 1)
        let events = simulator.events(now: 30)
        let parsed = try events.map { event -> StatusEvent in
            guard case .statusChange(let key, let change) = event else { throw CalloutProblem("not a status change") }
            let body = try #require(CalloutBodies.statusChange(key, change))
            return try CalloutBody.parse(body).get()
        }
        #expect(parsed.count >= 5)
        #expect(parsed.first?.status.name == "INITIALIZING" && parsed.first?.previousStatus?.name == "NEVER_RUN")
        #expect(parsed.allSatisfy { $0.key == MeterKey(meterId: 101, version: "0.0.1") && $0.runType == "NORMAL" })
        #expect(parsed.first?.sessionId == "S-101-1")
        #expect(parsed.contains { $0.sessionDuration != nil }, "an ended session carries its end time")
        #expect(simulator.events(now: 30).isEmpty, "each change is told once")
    }

    @Test func theStatusBodyHasExactlyTheREADMEsTemplateKeys() throws {
        let simulator = simulator()
        pin(simulator, "RUNNING", at: 1_800_000_000)
        pin(simulator, "FAILED", at: 1_800_000_090)
        let bodies = simulator.events(now: 1_800_000_100).compactMap { event -> [String: Any]? in
            guard case .statusChange(let key, let change) = event, let body = CalloutBodies.statusChange(key, change)
            else { return nil }
            return try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        }
        #expect(bodies.count == 2)
        let keys: Set = [
            "meterId", "meterName", "sessionId", "runType", "status", "previousStatus", "startTime", "endTime",
            "version",
        ]
        #expect(bodies.allSatisfy { Set($0.keys) == keys && $0.values.allSatisfy { $0 is String } })
        #expect(bodies[1]["status"] as? String == "FAILED" && bodies[1]["previousStatus"] as? String == "RUNNING")
        #expect(bodies[1]["startTime"] as? String == "2027-01-15T08:00:00Z")
        #expect(bodies[1]["endTime"] as? String == "2027-01-15T08:01:30Z" && bodies[0]["endTime"] as? String == "")
    }

    @Test func periodicSnapshotsPerOperatorEveryIntervalWhileASessionRuns() throws {
        let simulator = simulator(periodic: 60)
        pin(simulator, "RUNNING", at: 1000)
        _ = simulator.events(now: 1000)
        #expect(simulator.events(now: 1059).isEmpty)
        let first = simulator.events(now: 1061)
        #expect(first.count == 3)
        let snapshots = first.compactMap { event -> PeriodicSnapshot? in
            if case .periodic(_, let snapshot) = event { return snapshot }
            return nil
        }
        #expect(snapshots.map(\.operatorId) == ["op-read", "op-transform", "op-write"])
        #expect(simulator.events(now: 1100).isEmpty)
        let second = simulator.events(now: 1250).compactMap { event -> PeriodicSnapshot? in
            if case .periodic(_, let snapshot) = event { return snapshot }
            return nil
        }
        #expect(second.count == 3, "missed intervals give one snapshot")
        #expect(zip(snapshots, second).allSatisfy { $0.output < $1.output }, "counts so far grow")
        let body = try #require(
            try JSONSerialization.jsonObject(
                with: Data(CalloutBodies.periodic(MeterKey(meterId: 101, version: "0.0.1"), second[0]))
            )
                as? [String: Any]
        )
        #expect(body["operatorId"] as? String == "op-read" && body["sessionId"] as? String == "S-101-1")
        #expect(
            body["meterId"] as? String == "101" && body["runType"] as? String == "NORMAL"
                && body["endTime"] as? String == ""
        )
        let output = try #require(body["outputCount"] as? Int)
        let errors = try #require(body["errorCount"] as? Int)
        #expect(body["totalCount"] as? Int == output + errors)
        let percentage = try #require(body["errorPercentage"] as? Double)
        #expect(abs(percentage - Double(errors) * 100 / Double(output + errors)) < 0.01)
        pin(simulator, "COMPLETED", at: 1300)
        let ended = simulator.events(now: 1400)
        #expect(ended.count == 1, "the status change only: no snapshot once the session ended")
    }

    @Test func flagsAreCheckedWithClearMessages() {
        var flags = CalloutSettings.Flags()
        flags.statusURL = "http://127.0.0.1:9817/webhooks/meter-session-status"
        flags.username = "u"
        flags.password = "p"
        flags.retryDelay = "2s"
        flags.periodicInterval = "500ms"
        flags.attempts = "5"
        flags.hmacSecret = "s"
        flags.hmacEncoding = "base64"
        let settings = try? CalloutSettings.parse(flags).get()
        #expect(settings?.retryDelay == 2 && settings?.periodicInterval == 0.5 && settings?.attempts == 5)
        #expect(
            settings?.timeout == 25 && settings?.hmacHeader == "X-Zuora-Signature" && settings?.hmacEncoding == .base64
        )
        let bad: [(WritableKeyPath<CalloutSettings.Flags, String?>, String, String)] = [
            (\.statusURL, "ftp://x", "--callout.status-url"),
            (\.periodicURL, "http://a b", "--callout.periodic-url"),
            (\.attempts, "6", "--callout.attempts"),
            (\.attempts, "99999999999999999999999", "--callout.attempts"),
            (\.retryDelay, "soon", "--callout.retry-delay"),
            (\.timeout, "0s", "--callout.timeout"),
            (\.periodicInterval, "1e400s", "--callout.periodic-interval"),
            (\.hmacEncoding, "sha1", "--callout.hmac-encoding"),
            (\.hmacHeader, "X Sig\r\n", "--callout.hmac-header"),
            (\.username, "a:b", "--callout.username"),
            (\.password, nil ?? "", "--callout.username"),
        ]
        for (path, value, flag) in bad {
            var broken = CalloutSettings.Flags()
            broken[keyPath: path] = value
            if path == \.password { broken.username = nil }
            let message =
                (try? CalloutSettings.parse(broken).get()).map { _ in "" }
                ?? {
                    if case .failure(let error) = CalloutSettings.parse(broken) { return error.description }
                    return ""
                }()
            #expect(message.hasPrefix(flag), "\(value): \(message)")
        }
    }
}
