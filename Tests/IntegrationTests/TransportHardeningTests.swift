import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The HTTP transport against hostile input: numeric flags, slowloris clients, unauthenticated uploads, bad TLS
/// material. Each starts the built exporter as a process.
@Suite(.serialized)
struct TransportHardeningTests {
    /// A configuration that loads (Zuora unreachable: these tests never need it).
    static func offlineConfig() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("zme-offline-\(UUID().uuidString).yml")
        try "zuora:\n  base_url: http://127.0.0.1:9\nmeters:\n  - id: 101\n".write(
            to: url,
            atomically: true,
            encoding: .utf8
        )
        return url
    }

    /// Runs the exporter until it exits (`timeout` ends it if it unexpectedly starts serving).
    static func exporterExit(_ arguments: [String], config: URL) throws -> ToolResult {
        try runTool(
            "/usr/bin/timeout",
            [
                "10", binDirectory.appendingPathComponent("zuora-mediation-exporter").path, "--config.file",
                config.path,
                "--web.listen-address", "127.0.0.1:\(freePort())",
            ] + arguments,
            environment: ["ZUORA_CLIENT_ID": "a", "ZUORA_CLIENT_SECRET": "b"]
        )
    }

    @Test func hostileNumericFlagValuesAreRefusedWithoutATrap() throws {
        let config = try Self.offlineConfig()
        defer { try? FileManager.default.removeItem(at: config) }
        let hostileCounts = [
            "4294967296", "99999999999999999999", "-1", "0x10", " 5", "1e3", "", "\u{661}\u{662}", "12\u{1}", "7\n",
            "\u{FF13}",
        ]
        let hostileDurations = [
            "4294967296s", "99999999999999999999s", String(repeating: "9", count: 400) + "s", "-1s", "0s", "", "30",
            "1s\u{7}", "\u{FF13}0s", "nan", "inf",
        ]
        var cases: [(flag: String, value: String)] = []
        for flag in [
            "--web.max-connections", "--web.max-connections-per-client", "--web.max-concurrent-scrapes", "--shard",
            "--total-shards",
        ] {
            cases += hostileCounts.map { (flag, $0) }
        }
        for flag in ["--web.idle-timeout", "--web.read-timeout"] { cases += hostileDurations.map { (flag, $0) } }
        // In range alone, out of range together.
        cases.append(("--web.max-connections-per-client", "33"))
        for (flag, value) in cases {
            let extra = flag == "--web.max-connections-per-client" ? ["--web.max-connections", "32"] : []
            let result = try Self.exporterExit(extra + [flag, value], config: config)
            let shown = value.debugDescription
            #expect(result.status == 1, "\(flag) \(shown): exit \(result.status): \(result.output)")
            #expect(
                result.output.contains(flag) && result.output.contains("accepted"),
                "\(flag) \(shown): \(result.output)"
            )
            #expect(!result.output.contains("Fatal error"), "\(flag) \(shown) trapped: \(result.output)")
        }
        let shard = try Self.exporterExit(["--total-shards", "3", "--shard", "3"], config: config)
        #expect(
            shard.status == 1 && shard.output.contains("--shard") && shard.output.contains("0 to 2"),
            "\(shard.output)"
        )
    }

    @Test func aSlowlorisClientNeitherStarvesOthersNorOutlivesTheReadDeadline() throws {
        let readTimeout = 2.0
        let stack = try Stack(startExporter: false)
        try stack.startExporter(arguments: ["--web.read-timeout", "2s"])
        // Twice the default per-client limit (32), from 127.0.0.2, each sending a header byte now and then.
        var opening: [(fd: Int32, opened: Date)] = []
        defer { for socket in opening { close(socket.fd) } }
        for _ in 0..<64 {
            let fd = try connect(from: "127.0.0.2", toPort: stack.exporterPort)
            opening.append((fd, Date()))
            #expect(sendAll(fd, "GET /-/healthy HTTP/1.1\r\nHost: x\r\n"))
        }
        let trickling = opening
        let closedAt = Locked([Int32: Date]())
        let trickler = Thread {
            let end = Date().addingTimeInterval(readTimeout + 4)
            while Date() < end {
                for socket in trickling where closedAt.withLock({ $0[socket.fd] == nil }) {
                    if !sendAll(socket.fd, "X") || peerClosed(socket.fd) {
                        closedAt.withLock { $0[socket.fd] = Date() }
                    }
                }
                Thread.sleep(forTimeInterval: 0.5)
            }
        }
        trickler.start()
        Thread.sleep(forTimeInterval: 0.5)
        let still = trickling.filter { peerClosed($0.fd) == false }.count
        #expect(still <= 32, "the per-client limit holds: \(still) of 64 connections from 127.0.0.2 stay open")
        let probe = try runTool(
            "/usr/bin/curl",
            [
                "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "--max-time", "5",
                "\(stack.exporterURL)/-/healthy",
            ]
        )
        let fields = probe.output.split(separator: " ")
        #expect(fields.first == "200", "127.0.0.1 is served: \(probe.output)")
        #expect((fields.count == 2 ? Double(fields[1]) ?? 5 : 5) < 1, "within 1 s: \(probe.output)")
        #expect(eventually(timeout: readTimeout + 6) { closedAt.withLock { $0.count } == trickling.count })
        let lifetimes = trickling.map { socket in
            closedAt.withLock { $0[socket.fd] }.map { $0.timeIntervalSince(socket.opened) } ?? .infinity
        }
        for lived in lifetimes {
            #expect(lived <= readTimeout + 1, "a trickling connection lived \(lived) s (read timeout \(readTimeout) s)")
        }
        print(
            "TransportHardeningTests: /-/healthy from 127.0.0.1 \(probe.output); trickling connections lived "
                + "\(lifetimes.min() ?? 0) to \(lifetimes.max() ?? 0) s"
        )
        #expect(stack.exporter?.process.isRunning == true)
    }

    @Test func aKeptAliveConnectionIdleBetweenRequestsIsNotCutButATrickledRequestIs() throws {
        let stack = try Stack(startExporter: false)
        try stack.startExporter(arguments: ["--web.read-timeout", "2s"])
        let fd = try connectTo(port: stack.exporterPort)
        defer { close(fd) }
        let request = "GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(sendAll(fd, request) && readAnswer(fd).hasPrefix("HTTP/1.1 200"))
        Thread.sleep(forTimeInterval: 3.5)  // idle past the read timeout, within the idle timeout (30 s)
        #expect(sendAll(fd, request) && readAnswer(fd).hasPrefix("HTTP/1.1 200"), "the idle connection still serves")
        // A next request trickled on the same connection gets the read deadline too.
        let started = Date()
        var closed = false
        for byte in request.utf8 where !closed {
            closed = !sendAll(fd, String(UnicodeScalar(byte))) || peerClosed(fd)
            if !closed { Thread.sleep(forTimeInterval: 0.4) }
        }
        let lived = Date().timeIntervalSince(started)
        #expect(closed && lived <= 3, "closed \(closed) after \(lived) s (read timeout 2 s)")
    }

    @Test func unauthenticatedLargeUploadsAreRefusedUnread() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zme-up-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (_, _, hash) = try WebServerTests.material(in: directory)
        let webConfig = directory.appendingPathComponent("web.yml")
        try "basic_auth_users:\n  prometheus: '\(hash)'\n".write(to: webConfig, atomically: true, encoding: .utf8)
        let upload = directory.appendingPathComponent("upload")
        try Data(repeating: 0x61, count: 1_000_000).write(to: upload)
        let stack = try Stack(startExporter: false)
        try stack.launchExporter(arguments: [
            "--web.config.file", webConfig.path, "--web.max-connections-per-client", "64",
        ])
        #expect(eventually { http("GET", "\(stack.exporterURL)/-/healthy").status == 401 })
        let pid = try #require(stack.exporter?.process.processIdentifier)
        Thread.sleep(forTimeInterval: 1)
        let idle = try #require(residentKiB(pid))
        let statuses = Locked([Int]())
        let peak = Locked(idle)
        let sampling = Locked(true)
        let sampler = Thread {
            while sampling.withLock({ $0 }) {
                if let now = residentKiB(pid) { peak.withLock { $0 = max($0, now) } }
                usleep(20_000)
            }
        }
        sampler.start()
        // One curl with 40 transfers in parallel: 40 processes started from many threads at once made the
        // test runner itself crash once (Foundation's Process).
        var arguments = [
            "-s", "--parallel", "--parallel-immediate", "--parallel-max", "40", "--max-time", "30", "-w",
            "%{http_code}\n", "-H", "Expect:", "-H", "Content-Type: application/octet-stream", "--data-binary",
            "@\(upload.path)",
        ]
        for index in 0..<40 {
            arguments += ["-o", "/dev/null", "\(stack.exporterURL)/\(index % 2 == 0 ? "metrics" : "-/reload")"]
        }
        let transfers = try runTool("/usr/bin/curl", arguments)
        statuses.withLock { $0 = transfers.output.split(separator: "\n").compactMap { Int($0) } }
        Thread.sleep(forTimeInterval: 0.5)
        sampling.withLock { $0 = false }
        while !sampler.isFinished { usleep(10_000) }
        let answered = statuses.withLock { $0 }
        #expect(answered.count == 40 && answered.allSatisfy { $0 == 401 }, "every upload is answered 401: \(answered)")
        let grew = peak.withLock { $0 } - idle
        #expect(grew < 20 * 1024, "RSS grew \(grew) KiB over an idle \(idle) KiB")
        print("TransportHardeningTests: idle RSS \(idle) KiB, peak during 40 uploads +\(grew) KiB")
    }

    @Test func aCalloutOverTheBodyLimitIsRefusedBeforeItsBodyIsSent() throws {
        let stack = try WebhookTests.stack(basic: false)
        let fd = try connectTo(port: stack.exporterPort)
        defer { close(fd) }
        // The headers only: a 413 can come only from the Content-Length.
        let head =
            "POST /webhooks/meter-session-status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + "Content-Length: 10000000\r\n\r\n"
        #expect(sendAll(fd, head))
        let answer = readAnswer(fd)
        #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer)")
    }

    @Test func badTLSMaterialIsNamedAtStartUp() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zme-badtls-\(UUID().uuidString)")
        let other = directory.appendingPathComponent("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (cert, key) = try makeCertificate(in: directory)
        let (_, otherKey) = try makeCertificate(in: other)
        let garbage = directory.appendingPathComponent("garbage.pem").path
        try "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n".write(
            toFile: garbage,
            atomically: true,
            encoding: .utf8
        )
        let config = try Self.offlineConfig()
        defer { try? FileManager.default.removeItem(at: config) }
        let clientCA = "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: "
        let cases: [(tls: String, names: String)] = [
            ("  cert_file: \(garbage)\n  key_file: \(key)\n", "cert_file"),
            ("  cert_file: \(cert)\n  key_file: \(garbage)\n", "key_file"),
            ("  cert_file: \(cert)\n  key_file: \(otherKey)\n", "do not go together"),
            ("  cert_file: \(cert)\n  key_file: \(key)\n\(clientCA)\(garbage)\n", "client_ca_file"),
            ("  cert_file: \(cert)\n  key_file: \(key)\n\(clientCA)\(config.path)\n", "client_ca_file"),
        ]
        for (tls, names) in cases {
            let webConfig = directory.appendingPathComponent("web.yml")
            try "tls_server_config:\n\(tls)".write(to: webConfig, atomically: true, encoding: .utf8)
            let result = try Self.exporterExit(["--web.config.file", webConfig.path], config: config)
            #expect(result.status == 1, "\(tls): exit \(result.status): \(result.output)")
            #expect(result.output.contains(names), "\(tls): \(result.output)")
            #expect(!result.output.contains("another process"), "\(result.output)")
        }
    }

    @Test func onlyABusyPortIsBlamedOnAnotherProcess() throws {
        let stack = try Stack()
        let config = try Self.offlineConfig()
        defer { try? FileManager.default.removeItem(at: config) }
        let result = try runTool(
            "/usr/bin/timeout",
            [
                "10", binDirectory.appendingPathComponent("zuora-mediation-exporter").path, "--config.file",
                config.path,
                "--web.listen-address", "127.0.0.1:\(stack.exporterPort)",
            ],
            environment: ["ZUORA_CLIENT_ID": "a", "ZUORA_CLIENT_SECRET": "b"]
        )
        #expect(result.status == 1 && result.output.contains("another process using the port"), "\(result.output)")
    }
}

/// A value shared with the threads of a test.
private final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}

/// A TCP connection to 127.0.0.1:port from the loopback address `source`.
private func connect(from source: String, toPort port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var local = sockaddr_in()
    local.sin_family = sa_family_t(AF_INET)
    local.sin_addr.s_addr = inet_addr(source)
    var remote = local
    remote.sin_addr.s_addr = inet_addr("127.0.0.1")
    remote.sin_port = UInt16(port).bigEndian
    let bound = withUnsafePointer(to: &local) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    let connected = withUnsafePointer(to: &remote) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    try #require(bound == 0 && connected == 0, "connect from \(source): \(String(cString: strerror(errno)))")
    return fd
}

/// Sends all of `text`; false once the peer has gone (no SIGPIPE).
private func sendAll(_ fd: Int32, _ text: String) -> Bool {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) == bytes.count }
}

/// Whether the peer has closed or reset the connection (without waiting; unread answers are skipped).
private func peerClosed(_ fd: Int32) -> Bool {
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let read = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
        if read > 0 { continue }
        return read == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
    }
}

/// What arrives within 5 s, up to the end of the first answer's headers and a little more.
private func readAnswer(_ fd: Int32) -> String {
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var buffer = [UInt8](repeating: 0, count: 8192)
    let read = recv(fd, &buffer, buffer.count, 0)
    return read > 0 ? String(decoding: buffer[..<read], as: UTF8.self) : ""
}

/// VmRSS of a process, in KiB.
private func residentKiB(_ pid: Int32) -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
    return line.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") }
}
