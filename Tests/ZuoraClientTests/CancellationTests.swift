import MediationCore
import Testing

@testable import ZuoraClient

/// A cancelled poll (shutdown) returns promptly and sends nothing more; a reload's new credentials are in
/// force at once and a token fetched with the old ones is never used.
@Suite struct CancellationTests {
    @Test func aPollWaitingForTheBudgetReturnsWhenCancelledAndSendsNothing() async {
        let fake = FakeTransport()
        let h = Harness(fake: fake, budget: BudgetLimits(perMinute: 2))
        _ = await h.fetch()
        let held = Task { await h.fetch() }
        #expect(await settle { h.clock.sleeperCount == 1 })
        held.cancel()
        _ = await held.value
        h.clock.advance(by: 3600)
        #expect(fake.runStatusRequests.count == 1, "the cancelled request was never sent")
    }

    @Test func aTokenFetchWaitingOutRetryAfterIsCancelledWithItsLastWaiter() async {
        // Zuora answers the token request 429 with Retry-After 600: the next token request waits in the gate.
        let fake = FakeTransport(token: { _ in .success(.json(429, "", headers: ["retry-after": "600"])) })
        let h = Harness(fake: fake)
        #expect(await h.fetch().reason == .rateLimited)
        let polls = (0..<3).map { _ in Task { await h.fetch() } }
        // First the token back-off (1 s), then the gate's pause.
        #expect(await settle { h.clock.sleeperCount == 1 })
        h.clock.advance(by: 1)
        #expect(await settle { h.clock.sleeperCount == 1 && h.clock.nextDeadline == h.clock.now() + 1 })
        for poll in polls { poll.cancel() }
        for poll in polls { _ = await poll.value }
        #expect(await settle { h.clock.sleeperCount == 0 }, "the shared token fetch stopped waiting too")
        h.clock.advance(by: 3600)
        try? await Task.sleep(for: .milliseconds(20))
        #expect(fake.tokenRequests == 1, "and sent nothing")
    }

    @Test func oneCancelledWaiterLeavesTheSharedFetchToTheOthers() async {
        let fake = FakeTransport()
        let release = ManualClock(now: 0)
        fake.holdTokenUntilReleased(by: release)
        let h = Harness(fake: fake)
        let leaving = Task { await h.fetch() }
        let staying = Task { await h.fetch() }
        #expect(await settle { release.sleeperCount == 1 })
        leaving.cancel()
        _ = await leaving.value
        #expect(release.sleeperCount == 1, "the token request is still in flight")
        release.advance(by: 1)
        #expect(await staying.value.result == .status(RunStatus(code: 5)))
        #expect(fake.tokenRequests == 1)
    }

    @Test func aTransferInFlightIsAbortedOnCancellation() async {
        let fake = FakeTransport()
        // The closure must not hold the fake strongly: the fake keeps it (a cycle would leak both).
        fake.onRunStatus { [hold = fake.hold] _ in await FakeTransport.park(on: hold) }
        let h = Harness(fake: fake)
        let poll = Task { await h.fetch() }
        #expect(await settle { fake.hold.sleeperCount == 1 })
        poll.cancel()
        _ = await poll.value
        #expect(h.exposition().contains(#"zuora_api_request_duration_seconds_sum{endpoint="run_status"} 0.5"#))
    }

    @Test func aQueuedCurlRequestIsAnsweredAtOnceOnCancellationAndNeverSent() async {
        // No worker thread: the request can only wait in the queue.
        let transport = CurlTransport(userAgent: "t", capturedHeaders: [], slots: 0)
        let request = Task {
            await transport.perform(CurlRequest(method: "GET", url: "http://127.0.0.1:9/", headers: [], timeout: 1))
        }
        try? await Task.sleep(for: .milliseconds(20))
        request.cancel()
        let result = await request.value
        #expect(result == .failure(CurlFailure(.cancelled, "cancelled before it was sent")))
    }

    @Test func newCredentialsDiscardATokenFetchedWithTheOldOnes() async {
        let fake = FakeTransport()
        let release = ManualClock(now: 0)
        fake.onToken { request in
            let body = String(decoding: request.body ?? [], as: UTF8.self)
            if body.contains("client_secret=old") {
                // Slow, and deaf to cancellation: its answer arrives after the reload.
                try? await release.sleep(until: 1)
                return .success(.json(200, #"{"access_token":"old-token","expires_in":3599}"#))
            }
            return .success(.json(200, #"{"access_token":"new-token","expires_in":3599}"#))
        }
        let h = Harness(fake: fake)
        h.client.update(
            settings: .init(baseURL: "https://zuora.test", timeout: 10),
            credentials: ZuoraCredentials(clientId: "id", clientSecret: "old"),
            budget: BudgetLimits(),
            maxConcurrency: 4
        )
        let poll = Task { await h.fetch() }
        #expect(await settle { fake.tokenRequests == 1 })
        // The reload returns with the new credentials in force.
        h.client.update(
            settings: .init(baseURL: "https://zuora.test", timeout: 10),
            credentials: ZuoraCredentials(clientId: "id", clientSecret: "new"),
            budget: BudgetLimits(),
            maxConcurrency: 4
        )
        release.advance(by: 1)
        #expect(await poll.value.result == .status(RunStatus(code: 5)))
        _ = await h.fetch()
        #expect(fake.bearers == ["new-token", "new-token"], "the old credentials' token is never used")
        #expect(fake.tokenRequests == 2)
    }

    @Test func anotherBaseURLDropsTheToken() async {
        let h = Harness()
        _ = await h.fetch()
        h.client.update(
            settings: .init(baseURL: "https://other.test", timeout: 10),
            credentials: Harness.credentials,
            budget: BudgetLimits(),
            maxConcurrency: 4
        )
        _ = await h.fetch()
        #expect(h.fake.tokenRequests == 2)
        #expect(h.fake.sent.last?.url == "https://other.test/meters/101/0.0.1/runStatus")
    }
}
