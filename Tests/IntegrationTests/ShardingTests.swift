import ExpositionParser
import Foundation
import MediationCore
import Testing

/// Replicas started with --shard N --total-shards M poll disjoint sets that together cover every meter.
@Suite(.serialized)
struct ShardingTests {
    /// An exporter started as replica `shard` of `total` on the stack's configuration, and its port.
    static func replica(_ shard: Int, of total: Int, _ stack: Stack) throws -> (port: Int, process: ManagedProcess) {
        let port = freePort()
        let process = try ManagedProcess(
            "zuora-mediation-exporter",
            [
                "--config.file", stack.configURL.path, "--web.listen-address", "127.0.0.1:\(port)",
                "--shard", String(shard), "--total-shards", String(total),
            ],
            environment: ["ZUORA_CLIENT_ID": Stack.clientId, "ZUORA_CLIENT_SECRET": Stack.clientSecret]
        )
        return (port, process)
    }

    @Test func shardsPartitionTheMeters() throws {
        let ids = Array(101...130)
        let stack = try Stack(
            simulatedMeters: ids.map(String.init).joined(separator: ","),
            meterConfig: ids.map { "  - id: \($0)" }.joined(separator: "\n") + "\n",
            startExporter: false
        )
        var owned: [[String]] = []
        for shard in 0..<3 {
            let (port, replica) = try Self.replica(shard, of: 3, stack)
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
        #expect(bad.status == 1 && bad.output.contains("--shard") && bad.output.contains("0 to 2"), "\(bad.output)")
    }

    @Test func aCalloutIsTrackedOnlyByTheShardThatOwnsItsMeter() throws {
        let stack = try Stack(
            simulatedMeters: "101,102,103,104",
            meterConfig: "  - id: 101\n  - id: 102\n  - id: 103\n  - id: 104\n",
            extraConfig: "webhook:\n  insecure: true\n",
            startExporter: false
        )
        let replicas = try (0..<2).map { try Self.replica($0, of: 2, stack) }
        defer { for replica in replicas { replica.process.stop() } }
        for replica in replicas {
            #expect(eventually { http("GET", "http://127.0.0.1:\(replica.port)/-/ready").status == 200 })
        }
        // A configured meter and one known only from callouts, each sent to both replicas.
        let configured = Int64(
            (101...104).first { Shard(index: 0, total: 2).owns(MeterKey(meterId: Int64($0), version: "0.0.1")) }!
        )
        let dynamic = Int64(
            (900...999).first { Shard(index: 0, total: 2).owns(MeterKey(meterId: Int64($0), version: "0.0.1")) }!
        )
        for meterId in [configured, dynamic] {
            for replica in replicas {
                let answer = http(
                    "POST",
                    "http://127.0.0.1:\(replica.port)/webhooks/meter-session-status",
                    body: WebhookTests.callout(
                        meterId,
                        status: "RUNNING",
                        previous: "INITIALIZING",
                        session: "s-\(meterId)"
                    ),
                    headers: ["Content-Type: application/json"]
                )
                let expected = replica.port == replicas[0].port ? "accepted" : "other_shard"
                #expect(answer.status == 200 && answer.body.contains(expected), "\(meterId): \(answer.body)")
            }
        }
        let owner = parseExposition(http("GET", "http://127.0.0.1:\(replicas[0].port)/metrics").body)
        let other = parseExposition(http("GET", "http://127.0.0.1:\(replicas[1].port)/metrics").body)
        for meterId in [configured, dynamic] {
            let labels = ["meter_id": String(meterId), "version": "0.0.1"]
            #expect(owner.value("zuora_meter_run_status", labels) != nil, "the owner tracks \(meterId)")
            #expect(other.all("zuora_meter_info", labels).isEmpty, "the other shard has no series for \(meterId)")
        }
        #expect(other.value("zuora_webhook_requests_total", ["event": "status_change", "result": "other_shard"]) == 2)
    }
}
