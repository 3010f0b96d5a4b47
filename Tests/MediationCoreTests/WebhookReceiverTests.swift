import Foundation
import Logging
import Testing

@testable import MediationCore

/// The callout receiver as a plain handler: what Zuora (or anyone on the internet) gets back, and what
/// reaches the tracker.
struct WebhookReceiverTests {
    static let quiet = Logger(label: "webhook-tests") { _ in SwiftLogNoOpLogHandler() }
    static let hmacKey = Array("hmac-key".utf8)

    struct Setup {
        let hub: StatusHub
        let receiver: WebhookReceiver
        let memory: CalloutMemory
        let clock: ManualClock
        let config: WebhookConfig
    }

    func setup(
        hmac: Bool = false,
        memory: CalloutMemory? = nil,
        clock: ManualClock = ManualClock(),
        maxDynamic: Int = 100
    )
        -> Setup
    {
        var config = WebhookConfig()
        config.basicAuth = .init(username: "zuora", passwordFile: "/unused")
        if hmac { config.hmac = .init(secretFile: "/unused") }
        config.maxDynamicMeters = maxDynamic
        let hub = StatusHub(clock: clock)
        hub.configure([MeterSpec(key: key(101), name: nil), MeterSpec(key: key(102), name: "Usage")])
        let memory = memory ?? CalloutMemory(capacity: config.dedupWindow, clock: clock)
        let receiver = WebhookReceiver(
            config: config,
            secrets: WebhookSecrets(basicPassword: Array("pw".utf8), hmacKey: hmac ? Self.hmacKey : nil),
            hub: hub,
            metrics: ExporterMetrics(version: "test", revision: "test"),
            logger: Self.quiet,
            memory: memory
        )
        return Setup(hub: hub, receiver: receiver, memory: memory, clock: clock, config: config)
    }

    func callout(
        _ meter: Int64,
        status: String = "RUNNING",
        session: String = "s1",
        name: String? = nil,
        id: String? = nil,
        extraHeaders: [String: String] = [:],
        signed: Bool = false
    ) -> HTTPRequest {
        var fields = #""meterId": \#(meter), "sessionId": "\#(session)", "status": "\#(status)""#
        if let name { fields += #", "meterName": "\#(name)""# }
        let body = Array("{\(fields)}".utf8)
        var headers = ["Authorization": "Basic " + Data("zuora:pw".utf8).base64EncodedString()]
        if let id { headers["Zuora-Notification-Id"] = id }
        if signed {
            headers["X-Zuora-Signature"] = Signatures.hex(Signatures.hmacSHA256(key: Self.hmacKey, message: body))
        }
        headers.merge(extraHeaders) { $1 }
        return HTTPRequest(method: "POST", path: "/webhooks/meter-session-status", headers: headers, body: body)
    }

    @Test func wrongCredentialsAreRefusedFromTheHeadBeforeAnyBody() {
        let setup = setup()
        var head = callout(101)
        head.body = []
        head.headers["authorization"] = "Basic " + Data("zuora:wrong".utf8).base64EncodedString()
        guard case .refuse(let response) = setup.receiver.admit(head) else {
            Issue.record("admitted with a wrong password")
            return
        }
        #expect(response.status == 401)
        #expect(response.header("WWW-Authenticate") != nil, "Zuora's first call gets the challenge")
        head.method = "GET"
        guard case .refuse(let wrongMethod) = setup.receiver.admit(head) else {
            Issue.record("admitted GET")
            return
        }
        #expect(wrongMethod.status == 405)
    }

    @Test(arguments: ["70000", "99999999999999999999999", "18446744073709551615"])
    func aDeclaredBodyOverTheLimitIs413WithoutReadingIt(length: String) {
        let setup = setup()
        var head = callout(101)
        head.body = []
        head.headers["content-length"] = length
        guard case .refuse(let response) = setup.receiver.admit(head) else {
            Issue.record("admitted a \(length)-byte body")
            return
        }
        #expect(response.status == 413)
    }

    @Test func anAuthenticatedHeadIsAdmittedWithTheCalloutBodyLimit() {
        let setup = setup()
        var head = callout(101)
        head.body = []
        guard case .proceed(let limit) = setup.receiver.admit(head) else {
            Issue.record("refused")
            return
        }
        #expect(limit == setup.config.maxBodyBytes)
    }

    @Test(arguments: ["é", "sha256=é", "abé", "🇺🇸", "", "00"])
    func aHostileSignatureIs401NotACrash(signature: String) {
        let setup = setup(hmac: true)
        let request = callout(101, extraHeaders: ["X-Zuora-Signature": signature])
        #expect(setup.receiver.respond(to: request).status == 401)
        #expect(setup.hub.state(of: key(101))?.status == nil, "nothing applied")
        #expect(setup.receiver.respond(to: callout(101, signed: true)).status == 200, "a signed callout passes")
    }

    @Test func aLongNotificationIdIsRefused() {
        let setup = setup()
        let request = callout(101, id: String(repeating: "n", count: 28_000))
        #expect(setup.receiver.respond(to: request).status == 400)
        #expect(setup.receiver.respond(to: callout(101, id: String(repeating: "n", count: 128))).status == 200)
    }

    @Test func aCalloutNeverRenamesAConfiguredMeter() {
        let setup = setup()
        #expect(setup.receiver.respond(to: callout(101, name: "attacker")).status == 200)
        #expect(setup.receiver.respond(to: callout(102, name: "attacker")).status == 200)
        #expect(setup.hub.state(of: key(101))?.displayName == "", "configured without a name: stays unnamed")
        #expect(setup.hub.state(of: key(102))?.displayName == "Usage")
        #expect(setup.receiver.respond(to: callout(900, name: "Dynamic")).status == 200)
        #expect(setup.hub.state(of: key(900))?.displayName == "Dynamic", "a dynamic meter takes the callout's name")
    }

    @Test func theDeduplicationWindowSurvivesANewReceiver() {
        let first = setup()
        #expect(first.receiver.respond(to: callout(101, id: "n-1")).status == 200)
        // A reload builds a new receiver on the same memory.
        let reloaded = setup(memory: first.memory)
        let retry = reloaded.receiver.respond(to: callout(101, status: "FAILED", id: "n-1"))
        #expect(text(retry.body).contains("duplicate"), "a retry after a reload is still recognised")
        #expect(first.memory.acceptedRecently(), "the callout-health signal is kept too")
    }

    @Test func dynamicMetersExpireWhenCalloutsStopAndFreeTheLimit() {
        let setup = setup(maxDynamic: 1)
        #expect(text(setup.receiver.respond(to: callout(900)).body).contains("accepted"))
        #expect(text(setup.receiver.respond(to: callout(901)).body).contains("dropped"), "the limit is reached")
        setup.clock.advance(by: 3600)
        #expect(text(setup.receiver.respond(to: callout(900, status: "COMPLETED")).body).contains("accepted"))
        setup.clock.advance(by: 86_000)
        setup.hub.expireDynamicMeters(ttl: setup.config.dynamicMeterTTL)
        #expect(setup.hub.state(of: key(900)) != nil, "heard of within the last 24 h: kept")
        setup.clock.advance(by: 1000)
        let changes = setup.hub.expireDynamicMeters(ttl: setup.config.dynamicMeterTTL)
        #expect(changes.removed == [key(900)])
        #expect(setup.hub.state(of: key(101)) != nil, "configured meters never expire")
        #expect(!text(setup.hub.store.body()).contains(#"meter_id="900""#), "its series are gone")
        #expect(text(setup.receiver.respond(to: callout(901)).body).contains("accepted"), "the slot is free again")
    }

    @Test func calloutsCannotInflateMetricsOrTheLandingPage() {
        let setup = setup(maxDynamic: 100)
        let emptyBody = setup.hub.store.body().count
        var refused = 0
        for meter in 1000..<1250 {
            // Over the limits: refused whole.
            let huge = callout(Int64(meter), name: String(repeating: "n", count: 30_000), id: "x\(meter)")
            if setup.receiver.respond(to: huge).status == 400 { refused += 1 }
            // At the limits: accepted up to the dynamic-meter cap, then dropped.
            let name = String(repeating: "m", count: CalloutBody.Limits.meterName)
            let id = String(repeating: "i", count: CalloutBody.Limits.notificationId - 8) + String(meter)
            _ = setup.receiver.respond(to: callout(Int64(meter), name: name, id: id))
        }
        #expect(refused == 250)
        let body = setup.hub.store.body().count
        let dynamic = setup.hub.snapshot().values.count { !$0.isConfigured }
        #expect(dynamic == 100, "the dynamic-meter cap holds")
        // Each meter-version's series with a 256-byte name: a few KiB, not 30 KB per callout.
        #expect(body - emptyBody < 100 * 8 * 1024, "/metrics grew by \(body - emptyBody) bytes for 100 meters")
        let page = LandingPage.render(version: "t", telemetryPath: "/metrics", meters: setup.hub.snapshot())
        #expect(page.utf8.count < 200 * 1024, "landing page \(page.utf8.count) bytes")
    }
}
