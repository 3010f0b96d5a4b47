import ArgumentParser
import Foundation
import HTTPServer
import Logging
import MediationCore
import ServiceLifecycle
import SimulatorCore
import Synchronization
import UnixSignals

@main
struct SimulatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zuora-mediation-simulator",
        abstract: """
            A local simulator of the Zuora Mediation API (OAuth, runStatus, summary) that also sends Zuora's \
            callouts, with a control API for tests.
            """,
        discussion: """
            Runs are sessions S-{meterId}-{n} whose operators (default op-read, op-transform, op-write) report \
            output and error records; POST /meters/{meterId}/summary sums them. With --callout.status-url and/or \
            --callout.periodic-url, every status change is sent as a "Meter Session Status Change" callout and \
            every --callout.periodic-interval a running session sends one "Meter Session Periodic Status Update" \
            per operator, as Zuora does: Basic credentials only after the receiver's 401 challenge (unless \
            --callout.preemptive), an optional HMAC-SHA256 signature of the body, the same Zuora-Notification-Id \
            on every retry, retries on 1xx, 403, 408, 429, 5xx, timeouts and connection errors, no redirects. \
            Control API under /_control/: meters/{id}/{version}/status, .../records, .../fault, fault (target \
            token, summary or all), faults, tokens/revoke, stats.
            """
    )

    @Option(name: .customLong("web.listen-address"), help: "Address to listen on.")
    var listenAddress = "127.0.0.1:8080"

    @Option(name: .customLong("meters"), help: "Meter-versions to simulate: id or id:version, comma-separated.")
    var meters = "101,102,103,104,105"

    @Option(name: .customLong("meter-count"), help: "Simulate meters 1...N (version 0.0.1) instead of --meters.")
    var meterCount: Int?

    @Option(name: .customLong("client-id"), help: "Accepted OAuth client id.")
    var clientId = "simulator-client"

    @Option(name: .customLong("client-secret"), help: "Accepted OAuth client secret.")
    var clientSecret = "simulator-secret"

    @Option(name: .customLong("token-lifetime"), help: "Access token lifetime, e.g. 1h or 30s.")
    var tokenLifetime = "1h"

    @Option(
        name: .customLong("step"),
        help: "Advance each meter's lifecycle this often (e.g. 5s); 0 keeps statuses still."
    )
    var step = "0"

    @Option(
        name: .customLong("threads"),
        help: """
            HTTP server thread pool size; 0 gives each connection its own thread, so that an injected delay \
            holds up only its own connection, as a hung Zuora would.
            """
    )
    var threads = 0

    @Option(name: .customLong("tls.cert-file"), help: "Serve HTTPS with this PEM certificate (with --tls.key-file).")
    var tlsCertFile: String?

    @Option(name: .customLong("tls.key-file"), help: "PEM private key for --tls.cert-file.")
    var tlsKeyFile: String?

    @Option(
        name: .customLong("callout.status-url"),
        help: "Send \"Meter Session Status Change\" callouts here (http:// or https://); none when not given."
    )
    var calloutStatusURL: String?

    @Option(
        name: .customLong("callout.periodic-url"),
        help: "Send \"Meter Session Periodic Status Update\" callouts here, one per operator; none when not given."
    )
    var calloutPeriodicURL: String?

    @Option(
        name: .customLong("callout.username"),
        help: "Basic auth user, sent after the receiver's 401 challenge (with --callout.password)."
    )
    var calloutUsername: String?

    @Option(name: .customLong("callout.password"), help: "Basic auth password (with --callout.username).")
    var calloutPassword: String?

    @Flag(
        name: .customLong("callout.preemptive"),
        help: "Send the Basic credentials with the first request instead of waiting for the 401 challenge."
    )
    var calloutPreemptive = false

    @Option(name: .customLong("callout.hmac-secret"), help: "Sign each body with HMAC-SHA256 under this secret.")
    var calloutHMACSecret: String?

    @Option(name: .customLong("callout.hmac-header"), help: "Header of the signature (default X-Zuora-Signature).")
    var calloutHMACHeader: String?

    @Option(name: .customLong("callout.hmac-encoding"), help: "hex (default) or base64.")
    var calloutHMACEncoding: String?

    @Option(
        name: .customLong("callout.periodic-interval"),
        help: "Between two periodic snapshots of a running session (default 30m, as Zuora), e.g. 2s."
    )
    var calloutPeriodicInterval: String?

    @Option(name: .customLong("callout.retry-delay"), help: "Between two attempts of one callout (default 30m).")
    var calloutRetryDelay: String?

    @Option(
        name: .customLong("callout.attempts"),
        help: "Attempts per callout, the first included: 1 to 5 (default 3)."
    )
    var calloutAttempts: String?

    @Option(
        name: .customLong("callout.timeout"),
        help: "Longest wait for the receiver's answer (default 25s: Zuora's 10 s to connect and 15 s to answer)."
    )
    var calloutTimeout: String?

    func run() async throws {
        LoggingSystem.bootstrap { LineLogHandler(label: $0, format: .logfmt, level: .info) }
        let logger = Logger(label: "zuora-mediation-simulator")
        guard let lifetime = DurationText.seconds(tokenLifetime), lifetime >= 1 else {
            throw ValidationError("--token-lifetime: \(tokenLifetime) is not a duration of at least 1s")
        }
        guard let stepSeconds = step == "0" ? 0 : DurationText.seconds(step) else {
            throw ValidationError("--step: \(step) is not a duration")
        }
        let keys = try meterKeys()
        let callouts = try calloutSettings()
        let serverReference = ServerReference()
        var settings = ZuoraSimulator.Settings(
            clientId: clientId,
            clientSecret: clientSecret,
            tokenLifetime: lifetime,
            step: stepSeconds > 0 ? stepSeconds : nil
        )
        settings.statusEvents = callouts.statusURL != nil
        settings.periodicInterval = callouts.periodicURL != nil ? callouts.periodicInterval : nil
        let counters = CalloutCounters()
        let simulator = ZuoraSimulator(
            settings: settings,
            meters: keys,
            now: SystemWallClock().now(),
            calloutCounters: counters,
            connectionsOpened: { serverReference.server?.connectionsOpened ?? 0 }
        )
        var serverSettings = HTTPServerSettings(listenAddress: try ListenAddress(listenAddress))
        serverSettings.threads = threads
        serverSettings.maxConnections = 4096
        if let tlsCertFile, let tlsKeyFile {
            guard let cert = FileManager.default.contents(atPath: tlsCertFile),
                let key = FileManager.default.contents(atPath: tlsKeyFile)
            else { throw ValidationError("cannot read --tls.cert-file or --tls.key-file") }
            serverSettings.tls = TLSMaterial(
                keyPEM: String(decoding: key, as: UTF8.self),
                certificatePEM: String(decoding: cert, as: UTF8.self)
            )
        }
        let server = MicroHTTPServer(settings: serverSettings, handler: SimulatorHandler(simulator: simulator))
        serverReference.server = server
        try server.start()
        logger.info(
            "zuora-mediation-simulator started",
            metadata: ["listen": "\(listenAddress)", "meters": "\(keys.count)"]
        )
        var services: [any Service] = [ServerService(server: server)]
        if callouts.sendsAny {
            services.append(CalloutService(simulator: simulator, settings: callouts, counters: counters))
        }
        let group = ServiceGroup(
            configuration: .init(
                services: services,
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }

    /// The callout flags, checked: an invalid value is a clear message and exit status 1, never a trap.
    private func calloutSettings() throws -> CalloutSettings {
        var flags = CalloutSettings.Flags()
        flags.statusURL = calloutStatusURL
        flags.periodicURL = calloutPeriodicURL
        flags.username = calloutUsername
        flags.password = calloutPassword
        flags.preemptive = calloutPreemptive
        flags.hmacSecret = calloutHMACSecret
        flags.hmacHeader = calloutHMACHeader
        flags.hmacEncoding = calloutHMACEncoding
        flags.periodicInterval = calloutPeriodicInterval
        flags.retryDelay = calloutRetryDelay
        flags.attempts = calloutAttempts
        flags.timeout = calloutTimeout
        switch CalloutSettings.parse(flags) {
        case .success(let settings): return settings
        case .failure(let error):
            FileHandle.standardError.write(Data("zuora-mediation-simulator: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func meterKeys() throws -> [MeterKey] {
        if let meterCount {
            return (1...max(1, meterCount)).map { MeterKey(meterId: Int64($0), version: ExporterConfig.defaultVersion) }
        }
        return try meters.split(separator: ",").map { item in
            let parts = item.split(separator: ":", maxSplits: 1)
            guard let id = Int64(parts[0]) else {
                throw ValidationError("--meters: \(item) does not start with an integer id")
            }
            return MeterKey(meterId: id, version: parts.count > 1 ? String(parts[1]) : ExporterConfig.defaultVersion)
        }
    }
}

/// Serves the simulator's answers, holding back those with an injected delay and breaking off those
/// with an injected break-off.
struct SimulatorHandler: BreakingHTTPHandler {
    let simulator: ZuoraSimulator

    func handleBreaking(_ request: HTTPRequest) -> (HTTPResponse, Breakoff?) {
        let answer = simulator.respond(to: request, now: SystemWallClock().now())
        if answer.delay > 0 { usleep(UInt32(min(answer.delay, 600) * 1_000_000)) }
        let breakoff: Breakoff? =
            switch answer.breakoff {
            case .closeWithoutAnswer?: .closeWithoutAnswer
            case .truncateBody(let after)?: .truncateBody(after: after)
            case nil: nil
            }
        return (answer.response, breakoff)
    }
}

/// The server, for the simulator's connection count (the server is made after the simulator).
final class ServerReference: Sendable {
    private let slot = Mutex<MicroHTTPServer?>(nil)

    var server: MicroHTTPServer? {
        get { slot.withLock { $0 } }
        set { slot.withLock { $0 = newValue } }
    }
}

struct ServerService: Service {
    let server: MicroHTTPServer

    func run() async throws {
        try? await gracefulShutdown()
        server.stop()
    }
}
