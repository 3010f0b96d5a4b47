import ExpositionParser
import Foundation
import MediationCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Three replicas behind one callout URL (`--shard.peer-url-template`): whichever replica a callout
/// reaches, its owner counts it, once.
@Suite(.serialized)
struct ForwardingTests {
    static let total = 3
    static let peerSecret = "peer-secret-\(UUID().uuidString.prefix(8))"

    /// Three replicas on fixed ports `19XY0`…`19XY2` (the template's `{shard}` is the last digit), the
    /// first free block from 19600 on.
    final class Replicas: @unchecked Sendable {
        let stack: Stack
        let base: Int
        let secretFile: URL
        var processes: [ManagedProcess?]

        var template: String { "http://127.0.0.1:\(base / 10){shard}" }
        func url(_ shard: Int) -> String { "http://127.0.0.1:\(base + shard)" }

        init() throws {
            let block = (1960...1989).first { block in
                (0..<ForwardingTests.total).allSatisfy { portIsFree(block * 10 + $0) }
            }
            base = try #require(block, "no free block of ports from 19600 on") * 10
            stack = try Stack(
                simulatedMeters: "101,102",
                meterConfig: "  - id: 101\n  - id: 102\n",
                extraConfig: try WebhookTests.webhookSection(basic: true, hmac: true),
                startExporter: false
            )
            secretFile = try temporarySecretFile(holding: ForwardingTests.peerSecret + "\n")
            processes = Array(repeating: nil, count: ForwardingTests.total)
            for shard in 0..<ForwardingTests.total { try start(shard) }
        }

        func start(_ shard: Int) throws {
            processes[shard] = try ManagedProcess(
                "zuora-mediation-exporter",
                [
                    "--config.file", stack.configURL.path, "--web.listen-address", "127.0.0.1:\(base + shard)",
                    "--shard", String(shard), "--total-shards", String(ForwardingTests.total),
                    "--shard.peer-url-template", template, "--shard.peer-secret-file", secretFile.path,
                ],
                environment: ["ZUORA_CLIENT_ID": Stack.clientId, "ZUORA_CLIENT_SECRET": Stack.clientSecret]
            )
            #expect(
                eventually { http("GET", "\(url(shard))/-/healthy").status == 200 },
                "replica \(shard) did not start: \(processes[shard]?.log ?? "")"
            )
        }

        func metrics(_ shard: Int) -> [Sample] { parseExposition(http("GET", "\(url(shard))/metrics").body) }

        /// Summed over the other labels (the callout counter's `event`); -1 when there is no such series.
        func count(_ shard: Int, _ name: String, _ result: String) -> Double {
            let samples = metrics(shard).all(name, ["result": result])
            return samples.isEmpty ? -1 : samples.reduce(0) { $0 + $1.value }
        }

        deinit {
            for process in processes { process?.stop() }
            try? FileManager.default.removeItem(at: secretFile)
        }
    }

    static func portIsFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    static func owner(_ meterId: Int) -> Int {
        Shard(index: 0, total: total).owner(of: MeterKey(meterId: Int64(meterId), version: "0.0.1"))
    }

    /// A callout as Zuora sends it (Basic credentials, HMAC signature, notification id) to replica `shard`.
    static func post(
        _ replicas: Replicas,
        to shard: Int,
        _ meterId: Int,
        id: String,
        headers extra: [String] = [],
        basic: Bool = true
    ) -> HTTPResult {
        let body = WebhookTests.callout(meterId, status: "RUNNING", previous: "INITIALIZING", session: "s-\(meterId)")
        let signature = Signatures.hex(
            Signatures.hmacSHA256(key: Array(WebhookTests.hmacKey.utf8), message: Array(body.utf8))
        )
        return http(
            "POST",
            "\(replicas.url(shard))/webhooks/meter-session-status",
            body: body,
            headers: ["Content-Type: application/json", "Zuora-Notification-Id: \(id)", "X-Signature: \(signature)"]
                + extra,
            extra: basic ? ["-u", "zuora:\(WebhookTests.password)"] : []
        )
    }

    @Test func everyCalloutIsCountedOnceByItsOwnerWhicheverReplicaReceivesIt() throws {
        let started = Date()
        let replicas = try Replicas()
        // Meters known only from callouts (nothing polls them), so only callouts count their transitions.
        let meters = Array(900..<930)
        var received = [Int](repeating: 0, count: Self.total)
        var foreign = [Int](repeating: 0, count: Self.total)
        for (index, meterId) in meters.enumerated() {
            // Half through replica 0 (a load balancer's worst case), the rest spread over all three.
            let shard = index < meters.count / 2 ? 0 : index % Self.total
            received[shard] += 1
            if Self.owner(meterId) != shard { foreign[shard] += 1 }
            let answer = Self.post(replicas, to: shard, meterId, id: "n-\(meterId)")
            #expect(answer.status == 200 && answer.body.contains("accepted"), "\(meterId) via \(shard): \(answer.body)")
        }
        #expect(foreign.reduce(0, +) > 10, "most callouts needed forwarding: \(foreign)")
        var accepted = 0.0
        for shard in 0..<Self.total {
            let samples = replicas.metrics(shard)
            let owned = meters.filter { Self.owner($0) == shard }
            accepted +=
                samples.value("zuora_webhook_requests_total", ["event": "status_change", "result": "accepted"]) ?? 0
            #expect(
                samples.value("zuora_webhook_requests_total", ["event": "status_change", "result": "accepted"])
                    == Double(owned.count)
            )
            #expect(samples.value("zuora_webhook_forwarded_total", ["result": "ok"]) == Double(foreign[shard]))
            #expect(
                samples.value("zuora_webhook_requests_total", ["event": "status_change", "result": "other_shard"]) == 0
            )
            for meterId in meters {
                let transitions = samples.value(
                    "zuora_meter_run_status_transitions_total",
                    meter(meterId).merging(["from": "INITIALIZING", "to": "RUNNING"]) { $1 }
                )
                #expect(transitions == (Self.owner(meterId) == shard ? 1 : nil), "meter \(meterId) on replica \(shard)")
            }
        }
        #expect(accepted == Double(meters.count), "every callout counted exactly once")

        // The owner down: 503, so that Zuora retries; the retry (same notification id) lands once.
        let late = try #require((930..<990).first { Self.owner($0) == 2 })
        replicas.processes[2]?.stop()
        let down = Self.post(replicas, to: 0, late, id: "n-late")
        #expect(down.status == 503 && down.body.hasPrefix(#"{"error":"#), "\(down.status) \(down.body)")
        #expect(replicas.count(0, "zuora_webhook_forwarded_total", "unreachable") == 1)
        try replicas.start(2)
        #expect(Self.post(replicas, to: 0, late, id: "n-late").body.contains("accepted"))
        #expect(Self.post(replicas, to: 1, late, id: "n-late").body.contains("duplicate"), "a second retry")
        let owner = replicas.metrics(2)
        #expect(owner.value("zuora_webhook_requests_total", ["event": "status_change", "result": "accepted"]) == 1)
        #expect(
            owner.value(
                "zuora_meter_run_status_transitions_total",
                meter(late).merging(["from": "INITIALIZING", "to": "RUNNING"]) { $1 }
            ) == 1
        )
        for process in replicas.processes {
            #expect(!(process?.log.contains(Self.peerSecret) ?? true), "the replica secret never reaches a log")
        }
        #expect(Date().timeIntervalSince(started) < 40)
    }

    @Test func forwardsAreAuthenticatedAndNeverForwardedTwice() throws {
        let replicas = try Replicas()
        let meterId = try #require((900..<990).first { Self.owner($0) == 1 })
        // At the owner, without Zuora's Basic credentials: a forward header without the replica secret is 401.
        let forged = Self.post(
            replicas,
            to: 1,
            meterId,
            id: "f-1",
            headers: ["X-Exporter-Forward-Signature: 00"],
            basic: false
        )
        #expect(forged.status == 401)
        #expect(replicas.count(1, "zuora_webhook_requests_total", "unauthorized") == 1)
        // Signed with the replica secret, it is accepted there, without Basic credentials.
        let body = WebhookTests.callout(meterId, status: "RUNNING", previous: "INITIALIZING", session: "s-\(meterId)")
        let peerSignature = PeerForwarding.signature(
            secret: Array(Self.peerSecret.utf8),
            notificationId: "f-2",
            body: Array(body.utf8)
        )
        let signed = ["X-Exporter-Forward-Signature: \(peerSignature)"]
        // Sent to a replica that does not own the meter: refused, not forwarded again.
        let bounced = Self.post(replicas, to: 0, meterId, id: "f-2", headers: signed, basic: false)
        #expect(bounced.status == 421 && bounced.body.hasPrefix(#"{"error":"#), "\(bounced.status) \(bounced.body)")
        #expect(replicas.count(0, "zuora_webhook_requests_total", "misdirected") == 1)
        #expect(replicas.count(0, "zuora_webhook_forwarded_total", "ok") == 0, "not forwarded")
        let direct = Self.post(replicas, to: 1, meterId, id: "f-2", headers: signed, basic: false)
        #expect(direct.status == 200 && direct.body.contains("accepted"), "\(direct.body)")
    }

    @Test func peerFlagsAreValidated() throws {
        let exporter = binDirectory.appendingPathComponent("zuora-mediation-exporter").path
        let secret = try temporarySecretFile(holding: "s")
        let empty = try temporarySecretFile(holding: "\n")
        defer { for file in [secret, empty] { try? FileManager.default.removeItem(at: file) } }
        let cases: [([String], String)] = [
            (["--shard.peer-url-template", "http://peer:9817"], "go together"),
            (["--shard.peer-url-template", "http://peer:9817", "--shard.peer-secret-file", secret.path], "{shard}"),
            (["--shard.peer-url-template", "ftp://p-{shard}", "--shard.peer-secret-file", secret.path], "http"),
            (["--shard.peer-url-template", "http://h:6553{shard}", "--shard.peer-secret-file", secret.path], "port"),
            (
                ["--shard.peer-url-template", "http://h-{shard}:1", "--shard.peer-secret-file", "/nonexistent"],
                "cannot read"
            ),
            (["--shard.peer-url-template", "http://h-{shard}:1", "--shard.peer-secret-file", empty.path], "empty"),
        ]
        for (flags, expected) in cases {
            let result = try runTool(
                exporter,
                ["--config.file", "/nonexistent", "--shard", "0", "--total-shards", "8"] + flags,
                environment: ["ZUORA_CLIENT_ID": "a", "ZUORA_CLIENT_SECRET": "b"]
            )
            #expect(result.status == 1 && result.output.contains(expected), "\(flags): \(result.output)")
        }
    }
}
