import ExpositionParser
import Foundation
import Testing

/// The exporter binary keeps polling on schedule when only its wall clock is stepped (an NTP correction,
/// a VM resumed from a snapshot): libfaketime moves CLOCK_REALTIME an hour back, then an hour ahead,
/// and leaves CLOCK_MONOTONIC alone.
@Suite(.serialized)
struct WallClockStepTests {
    static let library = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

    @Test(.enabled(if: FileManager.default.fileExists(atPath: library)))
    func pollingContinuesOnScheduleWhenTheWallClockSteps() throws {
        let stack = try Stack(
            simulatedMeters: "101",
            meterConfig: "  - id: 101\n",
            pollInterval: "200ms",
            startExporter: false
        )
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zme-ft-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        // Under libfaketime the binary is started without arguments: the default configuration file name
        // in its working directory, and the default listen address.
        try FileManager.default.copyItem(
            at: stack.configURL,
            to: directory.appendingPathComponent("zuora-mediation-exporter.yml")
        )
        let offset = directory.appendingPathComponent("offset")
        try "+0".write(to: offset, atomically: true, encoding: .utf8)
        let exporter = try ManagedProcess(
            "zuora-mediation-exporter",
            [],
            environment: [
                "ZUORA_CLIENT_ID": Stack.clientId, "ZUORA_CLIENT_SECRET": Stack.clientSecret,
                "LD_PRELOAD": Self.library, "FAKETIME_TIMESTAMP_FILE": offset.path, "FAKETIME_NO_CACHE": "1",
                "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            ],
            directory: directory
        )
        defer { exporter.stop() }
        let url = "http://127.0.0.1:9817"
        #expect(eventually { http("GET", "\(url)/-/ready").status == 200 }, "\(exporter.log)")

        func pollsIn(_ seconds: Double) -> Int {
            let before = stack.polls(of: 101)
            Thread.sleep(forTimeInterval: seconds)
            return stack.polls(of: 101) - before
        }
        let steady = pollsIn(2)
        #expect(steady >= 5, "about 10 polls in 2 s at 200 ms: \(steady)")

        // An hour back: the schedule runs on the monotonic clock, so polling does not stall for an hour.
        try "-1h".write(to: offset, atomically: true, encoding: .utf8)
        let back = pollsIn(2)
        #expect(back >= steady / 2, "polling goes on after the wall clock stepped back: \(back) vs \(steady)")
        let shown =
            parseExposition(http("GET", "\(url)/metrics").body)
            .first { $0.name == "zuora_meter_last_poll_success_timestamp_seconds" }?.value ?? 0
        #expect(abs(shown - (Date().timeIntervalSince1970 - 3600)) < 60, "shown timestamps follow the wall clock")

        // An hour ahead: nothing is due at once, so there is no burst.
        try "+1h".write(to: offset, atomically: true, encoding: .utf8)
        let ahead = pollsIn(2)
        #expect(ahead >= steady / 2 && ahead <= steady * 2 + 2, "no stall and no burst: \(ahead) vs \(steady)")
        #expect(http("GET", "\(url)/-/healthy").status == 200)
    }
}
