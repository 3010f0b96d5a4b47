import Foundation
import Logging
import Prometheus
import Synchronization
import Testing

@testable import MediationCore

/// Callouts for another shard's meter-version, forwarded through a fake forwarder: to a canned answer, or
/// to the owning replica's receiver in the same process.
struct CalloutForwardingTests {
    static let quiet = Logger(label: "forwarding-tests") { _ in SwiftLogNoOpLogHandler() }
    static let secret = Array("replica-secret".utf8)
    static let hmacKey = Array("hmac-key".utf8)
    static let shards = 2

    /// Forwards to a canned outcome, or to a receiver per shard; remembers what it was given.
    final class FakeForwarder: CalloutForwarding {
        let sent = Mutex<[(request: HTTPRequest, shard: Int)]>([])
        let outcome: ForwardOutcome?
        /// Weak: the receivers hold this forwarder, so strong references would make a cycle that leaks.
        let peers = Mutex<[Int: WeakReceiver]>([:])

        init(outcome: ForwardOutcome? = nil) { self.outcome = outcome }

        func forward(_ request: HTTPRequest, toShard shard: Int) -> ForwardOutcome {
            sent.withLock { $0.append((request, shard)) }
            if let outcome { return outcome }
            guard let peer = peers.withLock({ $0[shard]?.receiver }) else {
                return .unreachable(reason: "no such peer")
            }
            let answer = peer.respond(to: request)
            return .answered(status: answer.status, body: answer.body, contentType: answer.header("Content-Type"))
        }
    }

    struct WeakReceiver: @unchecked Sendable {
        weak var receiver: WebhookReceiver?
    }

    struct Replica {
        let shard: Shard
        let hub: StatusHub
        let metrics: ExporterMetrics
        let receiver: WebhookReceiver

        func count(_ series: String) -> Double? {
            let exposition = text(metrics.registry.emitToBuffer())
            return exposition.split(separator: "\n").first { $0.hasPrefix(series + " ") }
                .flatMap { Double($0.split(separator: " ").last ?? "") }
        }
    }

    static func replica(
        _ index: Int,
        forwarder: FakeForwarder?,
        secret: [UInt8] = secret,
        hmac: Bool = false
    ) -> Replica {
        var config = WebhookConfig()
        config.basicAuth = .init(username: "zuora", passwordFile: "/unused")
        if hmac { config.hmac = .init(secretFile: "/unused") }
        let shard = Shard(index: index, total: shards)
        let hub = StatusHub(clock: ManualClock())
        let metrics = ExporterMetrics(version: "test", revision: "test")
        let receiver = WebhookReceiver(
            config: config,
            secrets: WebhookSecrets(basicPassword: Array("pw".utf8), hmacKey: hmac ? hmacKey : nil),
            hub: hub,
            metrics: metrics,
            logger: quiet,
            owns: { shard.owns($0) },
            forwarding: forwarder.map { PeerForwarding(secret: secret, forwarder: $0, owner: { shard.owner(of: $0) }) }
        )
        return Replica(shard: shard, hub: hub, metrics: metrics, receiver: receiver)
    }

    /// Replicas 0 and 1, each forwarding to the other in-process.
    static func pair(hmac: Bool = false, secrets: ([UInt8], [UInt8]) = (secret, secret)) -> [Replica] {
        let forwarder = FakeForwarder()
        let replicas = [
            replica(0, forwarder: forwarder, secret: secrets.0, hmac: hmac),
            replica(1, forwarder: forwarder, secret: secrets.1, hmac: hmac),
        ]
        forwarder.peers.withLock {
            $0 = [0: WeakReceiver(receiver: replicas[0].receiver), 1: WeakReceiver(receiver: replicas[1].receiver)]
        }
        return replicas
    }

    /// The first meter id from `range` that shard `index` owns.
    static func meter(ownedBy index: Int, in range: ClosedRange<Int64> = 100...999) -> Int64 {
        range.first { Shard(index: index, total: shards).owns(key($0)) }!
    }

    static func callout(
        _ meter: Int64,
        id: String? = "n-1",
        basic: Bool = true,
        signed: Bool = false,
        extra: [String: String] = [:]
    ) -> HTTPRequest {
        let body = Array(#"{"meterId": \#(meter), "sessionId": "s1", "status": "RUNNING"}"#.utf8)
        var headers = ["Content-Type": "application/json"]
        if basic { headers["Authorization"] = "Basic " + Data("zuora:pw".utf8).base64EncodedString() }
        if let id { headers["Zuora-Notification-Id"] = id }
        if signed { headers["X-Zuora-Signature"] = Signatures.hex(Signatures.hmacSHA256(key: hmacKey, message: body)) }
        headers.merge(extra) { $1 }
        return HTTPRequest(method: "POST", path: "/webhooks/meter-session-status", headers: headers, body: body)
    }

    /// A callout as another replica forwards it: Zuora's Basic credentials replaced by the replica signature.
    static func forwarded(_ meter: Int64, secret: [UInt8] = secret, id: String = "n-1") -> HTTPRequest {
        var request = callout(meter, id: id, basic: false)
        request.headers[PeerForwarding.header.lowercased()] = PeerForwarding.signature(
            secret: secret,
            notificationId: id,
            body: request.body
        )
        return request
    }

    @Test func aCalloutForAnotherShardIsForwardedToItsOwnerWithBodyAndIdIntact() {
        let forwarder = FakeForwarder(
            outcome: .answered(
                status: 200,
                body: Array(#"{"result":"accepted"}"#.utf8),
                contentType: "application/json"
            )
        )
        let replica = Self.replica(0, forwarder: forwarder)
        let foreign = Self.meter(ownedBy: 1)
        let request = Self.callout(foreign, id: "n-42")
        let answer = replica.receiver.respond(to: request)
        #expect(answer.status == 200 && text(answer.body) == #"{"result":"accepted"}"#, "the owner's answer, relayed")
        let sent = forwarder.sent.withLock { $0 }
        #expect(sent.count == 1 && sent.first?.shard == 1)
        #expect(sent.first?.request.body == request.body, "the body byte for byte")
        #expect(sent.first?.request.header("Zuora-Notification-Id") == "n-42")
        #expect(sent.first?.request.path == request.path)
        #expect(sent.first?.request.header(PeerForwarding.header) != nil)
        #expect(replica.hub.state(of: key(foreign)) == nil, "not tracked by the non-owner")
        #expect(replica.count(#"zuora_webhook_forwarded_total{result="ok"}"#) == 1)
        #expect(replica.count(#"zuora_webhook_requests_total{event="status_change",result="other_shard"}"#) == 0)
        #expect(
            replica.count(#"zuora_webhook_requests_total{event="status_change",result="accepted"}"#) == 0,
            "counted by the owner only"
        )

        let own = Self.meter(ownedBy: 0)
        #expect(text(replica.receiver.respond(to: Self.callout(own, id: "n-43")).body).contains("accepted"))
        #expect(forwarder.sent.withLock { $0.count } == 1, "an owned meter is handled here")
    }

    @Test func theOwnersAnswerIsRelayedWhateverItSays() {
        let body = Array(#"{"result":"duplicate"}"#.utf8)
        let forwarder = FakeForwarder(outcome: .answered(status: 200, body: body, contentType: "application/json"))
        let replica = Self.replica(0, forwarder: forwarder)
        let answer = replica.receiver.respond(to: Self.callout(Self.meter(ownedBy: 1)))
        #expect(answer.status == 200 && answer.body == body)
        let odd = FakeForwarder(
            outcome: .answered(status: 500, body: Array("{}".utf8), contentType: "text/x\r\nEvil: 1")
        )
        let answer500 = Self.replica(0, forwarder: odd).receiver.respond(to: Self.callout(Self.meter(ownedBy: 1)))
        #expect(answer500.status == 500)
        #expect(answer500.header("Content-Type") == "application/json", "a hostile content type is not relayed")
    }

    @Test func anUnreachableOwnerIs503SoThatZuoraRetries() {
        let forwarder = FakeForwarder(outcome: .unreachable(reason: "connection refused"))
        let replica = Self.replica(0, forwarder: forwarder)
        let answer = replica.receiver.respond(to: Self.callout(Self.meter(ownedBy: 1)))
        #expect(answer.status == 503 && text(answer.body).hasPrefix(#"{"error":"#))
        #expect(replica.count(#"zuora_webhook_forwarded_total{result="unreachable"}"#) == 1)
        #expect(replica.count(#"zuora_webhook_forwarded_total{result="ok"}"#) == 0)
    }

    @Test func aPeerThatRefusesTheForwardIs503NotA4xxZuoraWouldGiveUpOn() {
        for status in [421, 401] {
            let forwarder = FakeForwarder(outcome: .answered(status: status, body: Array("{}".utf8), contentType: nil))
            let replica = Self.replica(0, forwarder: forwarder)
            #expect(replica.receiver.respond(to: Self.callout(Self.meter(ownedBy: 1))).status == 503)
            #expect(replica.count(#"zuora_webhook_forwarded_total{result="refused"}"#) == 1)
        }
    }

    @Test func aForwardedCalloutForAMeterThisReplicaDoesNotOwnIsRefusedNotForwardedAgain() {
        let forwarder = FakeForwarder(outcome: .answered(status: 200, body: [], contentType: nil))
        let replica = Self.replica(0, forwarder: forwarder)
        let answer = replica.receiver.respond(to: Self.forwarded(Self.meter(ownedBy: 1)))
        #expect(answer.status == 421 && text(answer.body).hasPrefix(#"{"error":"#), "\(text(answer.body))")
        #expect(forwarder.sent.withLock { $0.isEmpty }, "never forwarded twice")
        #expect(replica.count(#"zuora_webhook_requests_total{event="status_change",result="misdirected"}"#) == 1)
    }

    @Test func theOwnerAcceptsAForwardWithTheReplicaSignatureInsteadOfZuorasCredentials() {
        let owner = Self.replica(1, forwarder: FakeForwarder())
        let meter = Self.meter(ownedBy: 1)
        let answer = owner.receiver.respond(to: Self.forwarded(meter))
        #expect(answer.status == 200 && text(answer.body).contains("accepted"))
        #expect(owner.hub.state(of: key(meter))?.status == RunStatus(code: 5))
        #expect(owner.count(#"zuora_webhook_requests_total{event="status_change",result="accepted"}"#) == 1)
        let retry = owner.receiver.respond(to: Self.forwarded(meter))
        #expect(text(retry.body).contains("duplicate"), "Zuora's retry, forwarded again, is recognised")
    }

    @Test func aForwardWithAWrongOrMissingSignatureIs401() {
        let owner = Self.replica(1, forwarder: FakeForwarder())
        let meter = Self.meter(ownedBy: 1)
        var wrong = Self.forwarded(meter, secret: Array("other".utf8))
        #expect(owner.receiver.respond(to: wrong).status == 401)
        wrong.headers[PeerForwarding.header.lowercased()] = ""
        #expect(owner.receiver.respond(to: wrong).status == 401)
        wrong.headers[PeerForwarding.header.lowercased()] = "é🇺🇸zz"
        #expect(owner.receiver.respond(to: wrong).status == 401)
        // Signed for another body: a captured forward cannot carry a changed callout.
        var tampered = Self.forwarded(meter)
        tampered.body = Array(#"{"meterId": \#(meter), "sessionId": "s1", "status": "FAILED"}"#.utf8)
        #expect(owner.receiver.respond(to: tampered).status == 401)
        #expect(owner.count(#"zuora_webhook_requests_total{event="status_change",result="unauthorized"}"#) == 4)
        #expect(owner.hub.state(of: key(meter)) == nil, "nothing applied")
        // A replica without forwarding has no secret to check a forward against.
        let plain = Self.replica(1, forwarder: nil)
        #expect(plain.receiver.respond(to: Self.forwarded(meter)).status == 401)
    }

    @Test func zuoraIsStillAuthenticatedOnTheReplicaThatReceivesTheCallout() {
        let replicas = Self.pair()
        let foreign = Self.meter(ownedBy: 1)
        let anonymous = replicas[0].receiver.respond(to: Self.callout(foreign, basic: false))
        #expect(anonymous.status == 401 && anonymous.header("WWW-Authenticate") != nil)
        #expect(replicas[1].hub.state(of: key(foreign)) == nil)
    }

    @Test func endToEndThroughTheOwnerWithHMACVerifiedAgainThere() {
        let replicas = Self.pair(hmac: true)
        let foreign = Self.meter(ownedBy: 1)
        let answer = replicas[0].receiver.respond(to: Self.callout(foreign, signed: true))
        #expect(answer.status == 200 && text(answer.body).contains("accepted"), "\(text(answer.body))")
        #expect(replicas[1].hub.state(of: key(foreign))?.status == RunStatus(code: 5), "tracked by its owner")
        #expect(replicas[0].hub.state(of: key(foreign)) == nil)
        #expect(replicas[1].count(#"zuora_webhook_requests_total{event="status_change",result="accepted"}"#) == 1)

        // Verified at the owner too: a forward whose HMAC header was lost is refused there.
        let owner = replicas[1]
        var unsigned = Self.forwarded(Self.meter(ownedBy: 1, in: 1000...1999))
        #expect(owner.receiver.respond(to: unsigned).status == 401)
        unsigned.headers["x-zuora-signature"] = Signatures.hex(
            Signatures.hmacSHA256(key: Self.hmacKey, message: unsigned.body)
        )
        #expect(owner.receiver.respond(to: unsigned).status == 200)
    }

    @Test func replicasWithDifferentSecretsAnswer503() {
        let replicas = Self.pair(secrets: (Self.secret, Array("rotated".utf8)))
        let answer = replicas[0].receiver.respond(to: Self.callout(Self.meter(ownedBy: 1)))
        #expect(answer.status == 503)
        #expect(replicas[0].count(#"zuora_webhook_forwarded_total{result="refused"}"#) == 1)
        #expect(replicas[1].count(#"zuora_webhook_requests_total{event="status_change",result="unauthorized"}"#) == 1)
    }

    @Test func forwardedSeriesStartAtZeroOnlyWhenForwardingIsOn() {
        let on = Self.replica(0, forwarder: FakeForwarder())
        for result in ["ok", "refused", "unreachable"] {
            #expect(on.count(#"zuora_webhook_forwarded_total{result="\#(result)"}"#) == 0)
        }
        let off = Self.replica(0, forwarder: nil)
        #expect(!text(off.metrics.registry.emitToBuffer()).contains("zuora_webhook_forwarded_total"))
    }
}
