import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM ends the exporter within 5 s whatever its requests to Zuora are waiting for: a Retry-After of
/// ten minutes, a spent request budget, or a transfer that would take 30 s more.
@Suite(.serialized)
struct ShutdownTests {
    static let limit = 5.0

    /// A stack whose exporter runs with `zuora` settings of the test's own (timeout included).
    func stack(zuora: String) throws -> Stack {
        let stack = try Stack(simulatedMeters: "101,102", startExporter: false)
        for id in [101, 102] { stack.setStatus(id, #""RUNNING""#) }
        let config = """
            zuora:
              base_url: http://127.0.0.1:\(stack.simulatorPort)
            \(zuora)
            poll_interval: 300ms
            idle_poll_interval: 300ms
            meters:
              - id: 101
              - id: 102
            """
        try config.write(to: stack.configURL, atomically: true, encoding: .utf8)
        return stack
    }

    /// Sends SIGTERM and returns how long the exporter took to exit (at most 15 s; then it is killed).
    func timeToExit(_ stack: Stack) -> Double {
        guard let exporter = stack.exporter else { return .infinity }
        let start = Date()
        kill(exporter.process.processIdentifier, SIGTERM)
        while exporter.process.isRunning, Date().timeIntervalSince(start) < 15 { usleep(10_000) }
        let seconds = Date().timeIntervalSince(start)
        print("ShutdownTests: exporter exited \(String(format: "%.2f", seconds)) s after SIGTERM")
        if exporter.process.isRunning { kill(exporter.process.processIdentifier, SIGKILL) }
        exporter.process.waitUntilExit()
        return seconds
    }

    @Test func exitsPromptlyWhileZuoraAsksToRetryInTenMinutes() throws {
        let stack = try stack(zuora: "  timeout: 10s")
        stack.control("POST", "fault", #"{"target":"all","status":429,"retryAfter":600}"#)
        try stack.startExporter()
        // The token request got its 429: the next one waits out the back-off, then the gate's 600 s.
        #expect(eventually { (stack.simulatorStats()["tokenRequests"] ?? 0) >= 1 })
        Thread.sleep(forTimeInterval: 2)
        #expect(stack.simulatorStats()["tokenRequests"] == 1, "nothing more is sent during Retry-After")
        let seconds = timeToExit(stack)
        #expect(seconds < Self.limit, "exited \(seconds) s after SIGTERM: \(stack.exporter?.log ?? "")")
        #expect(stack.exporter?.log.contains("zuora-mediation-exporter stopped") == true)
    }

    @Test func exitsPromptlyWhileTheRequestBudgetIsSpent() throws {
        let stack = try stack(zuora: "  timeout: 10s\n  request_budget:\n    per_minute: 1")
        try stack.startExporter()
        // The one request of the minute went to the token; every poll now waits in the gate.
        #expect(eventually { (stack.simulatorStats()["tokenRequests"] ?? 0) >= 1 })
        Thread.sleep(forTimeInterval: 1.5)
        #expect(stack.polls(of: 101) + stack.polls(of: 102) == 0, "no runStatus request fits the budget")
        let seconds = timeToExit(stack)
        #expect(seconds < Self.limit, "exited \(seconds) s after SIGTERM: \(stack.exporter?.log ?? "")")
        #expect(stack.exporter?.log.contains("zuora-mediation-exporter stopped") == true)
        #expect(stack.polls(of: 101) + stack.polls(of: 102) == 0, "a request cancelled in the gate is not sent")
    }

    @Test func exitsPromptlyWithATransferInFlight() throws {
        let stack = try stack(zuora: "  timeout: 60s")
        stack.control("POST", "fault", #"{"target":"all","status":200,"delay":30}"#)
        try stack.startExporter()
        // The token request is in flight for 30 s.
        #expect(eventually { (stack.simulatorStats()["tokenRequests"] ?? 0) >= 1 })
        Thread.sleep(forTimeInterval: 1)
        let seconds = timeToExit(stack)
        #expect(seconds < Self.limit, "exited \(seconds) s after SIGTERM: \(stack.exporter?.log ?? "")")
        #expect(stack.exporter?.log.contains("zuora-mediation-exporter stopped") == true)
        // The simulator itself would wait for its delayed answer.
        stack.simulator.stop(signal: SIGKILL)
    }
}
