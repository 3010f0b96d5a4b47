import Foundation
import Testing

/// Replicas started with --shard N --total-shards M poll disjoint sets that together cover every meter.
@Suite(.serialized)
struct ShardingTests {
    @Test func shardsPartitionTheMeters() throws {
        let ids = Array(101...130)
        let stack = try Stack(
            simulatedMeters: ids.map(String.init).joined(separator: ","),
            meterConfig: ids.map { "  - id: \($0)" }.joined(separator: "\n") + "\n",
            startExporter: false
        )
        var owned: [[String]] = []
        for shard in 0..<3 {
            let port = freePort()
            let replica = try ManagedProcess(
                "zuora-mediation-exporter",
                [
                    "--config.file", stack.configURL.path, "--web.listen-address", "127.0.0.1:\(port)",
                    "--shard", String(shard), "--total-shards", "3",
                ],
                environment: ["ZUORA_CLIENT_ID": Stack.clientId, "ZUORA_CLIENT_SECRET": Stack.clientSecret]
            )
            defer { replica.stop() }
            #expect(eventually { http("GET", "http://127.0.0.1:\(port)/-/ready").status == 200 }, "\(replica.log)")
            let samples = parseExposition(http("GET", "http://127.0.0.1:\(port)/metrics").body)
            owned.append(samples.all("zuora_meter_info").compactMap { $0.labels["meter_id"] })
        }
        let all = owned.flatMap { $0 }
        #expect(all.count == ids.count, "no meter is polled twice: \(owned)")
        #expect(Set(all) == Set(ids.map(String.init)), "every meter is polled by some shard")
        #expect(owned.allSatisfy { !$0.isEmpty }, "30 meters spread over all 3 shards")

        let bad = try runTool(
            binDirectory.appendingPathComponent("zuora-mediation-exporter").path,
            ["--config.file", stack.configURL.path, "--shard", "3", "--total-shards", "3"],
            environment: ["ZUORA_CLIENT_ID": "a", "ZUORA_CLIENT_SECRET": "b"]
        )
        #expect(bad.status == 1 && bad.output.contains("--shard must be between 0 and 2"), "\(bad.output)")
    }
}
