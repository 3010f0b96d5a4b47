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
        abstract: "A local simulator of the Zuora Mediation API (OAuth and runStatus) with a control API for tests."
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
        let serverReference = ServerReference()
        let simulator = ZuoraSimulator(
            settings: .init(
                clientId: clientId,
                clientSecret: clientSecret,
                tokenLifetime: lifetime,
                step: stepSeconds > 0 ? stepSeconds : nil
            ),
            meters: keys,
            now: SystemWallClock().now(),
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
        let group = ServiceGroup(
            configuration: .init(
                services: [ServerService(server: server)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
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
