import Foundation
import Logging
import MediationCore
import Prometheus
import Synchronization

@testable import ZuoraClient

/// A scripted Zuora: answers token and runStatus requests with handlers a test can swap, and records what
/// was sent. A handler that must hold a request "in flight" parks on `hold` (a clock nobody advances) and
/// returns `.cancelled` when its task is cancelled, as `CurlTransport` does.
final class FakeTransport: HTTPTransport {
    typealias Handler = @Sendable (CurlRequest) async -> Result<CurlResponse, CurlFailure>

    private struct State {
        var sent: [CurlRequest] = []
        var token: Handler
        var runStatus: Handler
        var tokensIssued = 0
    }

    private let state: Mutex<State>
    let hold = ManualClock()

    init(token: Handler? = nil, runStatus: Handler? = nil) {
        state = Mutex(
            State(
                token: token ?? { _ in .success(.json(200, #"{"access_token":"t","expires_in":3599}"#)) },
                runStatus: runStatus ?? { _ in .success(.running) }
            )
        )
        if token == nil { onToken(Self.issueTokens(self)) }
    }

    /// Answers token requests with tok-1, tok-2, … living `lifetime` seconds.
    static func issueTokens(_ fake: FakeTransport, lifetime: Int = 3599) -> Handler {
        { [weak fake] _ in
            let number =
                fake?.state.withLock { state in
                    state.tokensIssued += 1
                    return state.tokensIssued
                } ?? 0
            return .success(
                .json(200, #"{"access_token":"tok-\#(number)","token_type":"bearer","expires_in":\#(lifetime)}"#)
            )
        }
    }

    func onToken(_ handler: @escaping Handler) { state.withLock { $0.token = handler } }
    func onRunStatus(_ handler: @escaping Handler) { state.withLock { $0.runStatus = handler } }

    var sent: [CurlRequest] { state.withLock { $0.sent } }
    var tokenRequests: Int { sent.filter { $0.url.hasSuffix("/oauth/token") }.count }
    var runStatusRequests: [CurlRequest] { sent.filter { $0.url.hasSuffix("/runStatus") } }

    /// The bearer token of each runStatus request, in order.
    var bearers: [String] {
        runStatusRequests.compactMap { request in
            request.headers.first { $0.hasPrefix("Authorization: Bearer ") }.map { String($0.dropFirst(22)) }
        }
    }

    func perform(_ request: CurlRequest) async -> Result<CurlResponse, CurlFailure> {
        if Task.isCancelled { return .failure(CurlFailure(.cancelled, "cancelled before it was sent")) }
        let handler = state.withLock { state in
            state.sent.append(request)
            return request.url.hasSuffix("/oauth/token") ? state.token : state.runStatus
        }
        return await handler(request)
    }

    /// Parks on `hold` until the task is cancelled (a transfer that never ends by itself).
    static func park(on hold: ManualClock) async -> Result<CurlResponse, CurlFailure> {
        do {
            try await hold.sleep(until: .greatestFiniteMagnitude)
        } catch {}
        return .failure(CurlFailure(.cancelled, "cancelled while in flight", seconds: 0.5))
    }
}

extension CurlResponse {
    static func json(
        _ status: Int,
        _ body: String,
        headers: [String: String] = [:],
        seconds: Double = 0.05
    )
        -> CurlResponse
    {
        CurlResponse(status: status, body: Array(body.utf8), headers: headers, seconds: seconds)
    }

    static let running = json(200, #"{"success":true,"data":{"runStatus":5,"runStatusDescription":"RUNNING"}}"#)
}

/// A client on a fake transport and a manual clock.
struct Harness {
    let fake: FakeTransport
    let clock = ManualClock()
    let wall = ManualWallClock()
    let metrics = ExporterMetrics(version: "test", revision: "test")
    let client: ZuoraAPIClient
    static let credentials = ZuoraCredentials(clientId: "id", clientSecret: "secret")
    static let key = MeterKey(meterId: 101, version: "0.0.1")

    init(fake: FakeTransport = FakeTransport(), budget: BudgetLimits = BudgetLimits()) {
        self.fake = fake
        client = ZuoraAPIClient(
            settings: .init(baseURL: "https://zuora.test", timeout: 10),
            credentials: Self.credentials,
            transport: fake,
            budget: budget,
            metrics: metrics,
            logger: Logger(label: "zuora-client-tests") { _ in SwiftLogNoOpLogHandler() },
            clock: clock,
            wallClock: wall
        )
    }

    func fetch(_ key: MeterKey = Harness.key) async -> FetchResult { await client.fetchRunStatus(key) }

    /// The exposition text of the client's metrics.
    func exposition() -> String { String(decoding: metrics.registry.emitToBuffer(), as: UTF8.self) }
}

/// Waits (briefly, on real time) until `condition` holds: for a task to reach a wait, never to let time pass.
func settle(_ condition: @Sendable () -> Bool) async -> Bool {
    for _ in 0..<2000 {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return condition()
}

extension FetchResult {
    var reason: PollErrorReason? {
        if case .failure(let reason, _) = result { return reason }
        return nil
    }

    var message: String {
        if case .failure(_, let message) = result { return message }
        return ""
    }
}

extension FakeTransport {
    /// Token requests answer `shared` only once `release` passes 1 s: holds a token fetch in flight.
    func holdTokenUntilReleased(by release: ManualClock) {
        onToken { _ in
            try? await release.sleep(until: 1)
            return .success(.json(200, #"{"access_token":"shared","expires_in":3599}"#))
        }
    }
}
