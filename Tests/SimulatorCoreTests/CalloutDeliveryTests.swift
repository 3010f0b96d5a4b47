import Foundation
import MediationCore
import Synchronization
import Testing

@testable import SimulatorCore

/// The callout delivery rules, with a fake sender and a clock moved by hand (nothing sleeps).
struct CalloutDeliveryTests {
    /// Answers from a script, one per request (the last one repeats), and keeps every request.
    final class FakeSender: CalloutSender {
        private let state: Mutex<(script: [CalloutResult], requests: [CalloutRequest])>

        init(_ script: [CalloutResult]) { state = Mutex((script, [])) }

        var requests: [CalloutRequest] { state.withLock { $0.requests } }

        func send(_ request: CalloutRequest) async -> CalloutResult {
            state.withLock { state in
                state.requests.append(request)
                return state.script.count > 1 ? state.script.removeFirst() : state.script[0]
            }
        }
    }

    static let challenge = CalloutResult.answered(status: 401, wwwAuthenticate: #"Basic realm="exporter""#)
    static let ok = CalloutResult.answered(status: 200, wwwAuthenticate: nil)

    let clock = ManualClock(now: 0)
    let counters = CalloutCounters()

    func delivery(_ sender: FakeSender, _ change: (inout CalloutSettings) -> Void = { _ in }) -> CalloutDelivery {
        var settings = CalloutSettings()
        settings.statusURL = "http://127.0.0.1:1/hook"
        settings.username = "zuora"
        settings.password = "pa:ss"
        settings.retryDelay = 60
        change(&settings)
        return CalloutDelivery(settings: settings, sender: sender, clock: clock, counters: counters)
    }

    @Test func sendsCredentialsOnlyAfterTheChallengeAndCountsThatAsOneAttempt() async {
        let sender = FakeSender([Self.challenge, Self.ok])
        let delivery = delivery(sender)
        delivery.enqueue(url: "http://127.0.0.1:1/hook", body: Array(#"{"a":1}"#.utf8))
        await delivery.deliverDue()
        let requests = sender.requests
        #expect(requests.count == 2)
        #expect(requests[0].header("Authorization") == nil)
        let expected = "Basic " + Data("zuora:pa:ss".utf8).base64EncodedString()
        #expect(requests[1].header("Authorization") == expected)
        #expect(requests[0].header("Zuora-Notification-Id") == requests[1].header("Zuora-Notification-Id"))
        #expect(requests[0].header("Zuora-Request-Id") != requests[1].header("Zuora-Request-Id"))
        #expect(requests[0].header("Content-Type") == "application/json" && requests[0].body == Array(#"{"a":1}"#.utf8))
        #expect(counters.snapshot == .init(sent: 1, attempts: 2, failed: 0, dropped: 0))
    }

    @Test func preemptiveSendsCredentialsAtOnceAndA401WithoutChallengeIsFinal() async {
        let sender = FakeSender([Self.ok])
        let delivery = delivery(sender) { $0.preemptive = true }
        delivery.enqueue(url: "http://h/x", body: [])
        await delivery.deliverDue()
        #expect(sender.requests.count == 1 && sender.requests[0].header("Authorization")?.hasPrefix("Basic ") == true)

        let refusing = FakeSender([.answered(status: 401, wwwAuthenticate: nil)])
        let other = self.delivery(refusing)
        other.enqueue(url: "http://h/x", body: [])
        await other.deliverDue()
        #expect(refusing.requests.count == 1, "no Basic challenge: nothing to answer it with")
        #expect(counters.snapshot.failed == 1)
    }

    @Test func signsTheBodyWithHMACInTheConfiguredHeaderAndEncoding() async {
        let body = Array(#"{"meterId":"101"}"#.utf8)
        let mac = Signatures.hmacSHA256(key: Array("k3y".utf8), message: body)
        for (encoding, expected) in [
            (SignatureEncoding.hex, Signatures.hex(mac)), (.base64, Data(mac).base64EncodedString()),
        ] {
            let sender = FakeSender([Self.ok])
            let delivery = delivery(sender) { settings in
                settings.username = nil
                settings.password = nil
                settings.hmacSecret = "k3y"
                settings.hmacHeader = "X-Sig"
                settings.hmacEncoding = encoding
            }
            delivery.enqueue(url: "http://h/x", body: body)
            await delivery.deliverDue()
            #expect(sender.requests.first?.header("X-Sig") == expected)
            #expect(sender.requests.first?.header("Authorization") == nil)
        }
    }

    @Test func retriesOn503AndTimeoutAfterTheDelayWithTheSameNotificationId() async {
        let sender = FakeSender([
            Self.challenge, .answered(status: 503, wwwAuthenticate: nil), Self.challenge, .timedOut, Self.challenge,
            Self.ok,
        ])
        let delivery = delivery(sender)
        delivery.enqueue(url: "http://h/x", body: [1])
        await delivery.deliverDue()
        #expect(sender.requests.count == 2 && delivery.waiting == 1)
        clock.advance(by: 59)
        await delivery.deliverDue()
        #expect(sender.requests.count == 2, "not before the retry delay")
        clock.advance(by: 1)
        await delivery.deliverDue()
        #expect(sender.requests.count == 4)
        clock.advance(by: 60)
        await delivery.deliverDue()
        let requests = sender.requests
        #expect(requests.count == 6 && delivery.waiting == 0)
        #expect(Set(requests.compactMap { $0.header("Zuora-Notification-Id") }).count == 1)
        #expect(Set(requests.compactMap { $0.header("Zuora-Request-Id") }).count == 6)
        #expect(counters.snapshot == .init(sent: 1, attempts: 6, failed: 0, dropped: 0))
    }

    @Test(arguments: [
        (CalloutResult.answered(status: 400, wwwAuthenticate: nil), false),
        (.answered(status: 404, wwwAuthenticate: nil), false),
        (.answered(status: 302, wwwAuthenticate: nil), false),
        (.answered(status: 301, wwwAuthenticate: nil), false),
        (.answered(status: 403, wwwAuthenticate: nil), true),
        (.answered(status: 408, wwwAuthenticate: nil), true),
        (.answered(status: 429, wwwAuthenticate: nil), true),
        (.answered(status: 500, wwwAuthenticate: nil), true),
        (.answered(status: 102, wwwAuthenticate: nil), true),
        (.failed("connection refused"), true),
    ])
    func retriesOnlyWhatZuoraRetries(result: CalloutResult, retried: Bool) async {
        let sender = FakeSender([result])
        let delivery = delivery(sender) { $0.preemptive = true }
        delivery.enqueue(url: "http://h/x", body: [])
        await delivery.deliverDue()
        clock.advance(by: 60)
        await delivery.deliverDue()
        #expect(sender.requests.count == (retried ? 2 : 1), "a redirect is neither followed nor retried")
    }

    @Test func givesUpAfterTheAttemptsAndCountsIt() async {
        let sender = FakeSender([.answered(status: 502, wwwAuthenticate: nil)])
        let delivery = delivery(sender) {
            $0.preemptive = true
            $0.attempts = 3
        }
        delivery.enqueue(url: "http://h/x", body: [])
        for _ in 0..<5 {
            await delivery.deliverDue()
            clock.advance(by: 60)
        }
        #expect(sender.requests.count == 3)
        #expect(counters.snapshot == .init(sent: 0, attempts: 3, failed: 1, dropped: 0))
    }

    @Test func aFullQueueDropsTheOldestAndCountsThem() async {
        let sender = FakeSender([Self.ok])
        let delivery = delivery(sender) {
            $0.queueCapacity = 3
            $0.preemptive = true
        }
        for index in 0..<5 { delivery.enqueue(url: "http://h/x", body: [UInt8(index)]) }
        #expect(delivery.waiting == 3 && counters.snapshot.dropped == 2)
        await delivery.deliverDue()
        #expect(sender.requests.map(\.body) == [[2], [3], [4]], "the newest are kept, in order")
    }
}
