import ArgumentParser
import Foundation
import HTTPServer
import Logging
import MediationCore
import Prometheus
import ServiceLifecycle
import UnixSignals
import ZuoraClient

@main
struct ExporterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zuora-mediation-exporter",
        abstract: "Prometheus exporter for Zuora Mediation meter run statuses.",
        version: "zuora-mediation-exporter \(BuildInfo.version) (revision \(BuildInfo.revision))"
    )

    @Option(name: .customLong("config.file"), help: "Path to the YAML configuration file.")
    var configFile = "zuora-mediation-exporter.yml"

    @Flag(name: .customLong("config.check"), help: "Validate the configuration file and exit.")
    var configCheck = false

    @Option(name: .customLong("web.listen-address"), help: "Address to listen on, e.g. :9817 or 127.0.0.1:9817.")
    var listenAddress = ":9817"

    @Option(name: .customLong("web.telemetry-path"), help: "Path under which to expose metrics.")
    var telemetryPath = "/metrics"

    @Option(name: .customLong("log.level"), help: "Only log messages at or above: debug, info, warn, error.")
    var logLevel: LevelOption = .info

    @Option(name: .customLong("log.format"), help: "Log line format: logfmt or json.")
    var logFormat: FormatOption = .logfmt

    @Option(name: .customLong("shard"), help: "This replica's shard, 0-based (with --total-shards).")
    var shard = 0

    @Option(name: .customLong("total-shards"), help: "How many replicas share the meters.")
    var totalShards = 1

    func run() async throws {
        let format = logFormat.format
        let level = logLevel.level
        LoggingSystem.bootstrap { LineLogHandler(label: $0, format: format, level: level) }
        let logger = Logger(label: "zuora-mediation-exporter")

        let config: ExporterConfig
        let credentials: ZuoraCredentials
        var webhookSecrets: WebhookSecrets?
        do {
            config = try loadConfig()
            credentials = try CredentialLoader.load(
                config.zuora,
                environment: ProcessInfo.processInfo.environment,
                logger: logger
            )
            if let webhook = config.webhook {
                webhookSecrets = try CredentialLoader.loadWebhook(webhook, logger: logger)
            }
        } catch {
            Self.fail("invalid configuration in \(configFile): \(error)")
        }
        if configCheck {
            print(
                "\(configFile): valid; \(config.meters.count) meter-versions, poll interval \(DurationText.format(config.pollInterval))"
            )
            return
        }
        guard telemetryPath.hasPrefix("/") else { Self.fail("--web.telemetry-path must start with /") }
        let address: ListenAddress
        do { address = try ListenAddress(listenAddress) } catch { Self.fail("--web.listen-address: \(error)") }

        let shard = Shard(index: self.shard, total: totalShards)
        if let problem = shard.problem { Self.fail(problem) }
        let ownMeters = config.meters.filter { shard.owns($0.key) }

        let metrics = ExporterMetrics(version: BuildInfo.version, revision: BuildInfo.revision)
        let hub = StatusHub()
        hub.configure(ownMeters)
        let client = ZuoraAPIClient(
            settings: .init(config.zuora),
            credentials: credentials,
            tls: TLSSettings(),
            metrics: metrics,
            logger: logger,
            userAgent: "zuora-mediation-exporter/\(BuildInfo.version)"
        )
        let poller = Poller(
            hub: hub,
            fetcher: client,
            settings: PollSettings(interval: config.pollInterval, maxConcurrency: config.zuora.maxConcurrency),
            metrics: metrics,
            logger: logger
        )
        var extraRoutes: [String: any HTTPHandler] = [:]
        if let webhook = config.webhook, let secrets = webhookSecrets {
            if webhook.insecure {
                logger.warning("the callout receiver accepts unauthenticated callouts (webhook.insecure)")
            }
            extraRoutes[webhook.path] = WebhookReceiver(
                config: webhook,
                secrets: secrets,
                hub: hub,
                metrics: metrics,
                logger: logger
            )
        }
        let routes = ExporterRoutes(
            settings: .init(telemetryPath: telemetryPath, version: BuildInfo.version),
            hub: hub,
            dynamicMetrics: { metrics.registry.emitToBuffer() + ProcessMetrics.render() },
            isReady: { poller.isReady },
            extraRoutes: extraRoutes
        )
        let server = MicroHTTPServer(settings: HTTPServerSettings(listenAddress: address), handler: routes)
        do { try server.start() } catch { Self.fail("\(error)") }
        logger.info(
            "zuora-mediation-exporter started",
            metadata: [
                "version": "\(BuildInfo.version)", "listen": "\(address)", "meters": "\(ownMeters.count)",
                "shard": "\(shard.index)/\(shard.total)",
                "base_url": "\(config.zuora.baseURL)",
            ]
        )
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: PollerService(poller: poller)), .init(service: HTTPService(server: server))],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        logger.info("zuora-mediation-exporter stopped")
    }

    private func loadConfig() throws(ConfigError) -> ExporterConfig {
        guard let data = FileManager.default.contents(atPath: configFile) else {
            throw ConfigError(
                path: "",
                line: nil,
                message: "cannot read the file; check --config.file and its permissions"
            )
        }
        return try ExporterConfig.parse(yaml: String(decoding: data, as: UTF8.self))
    }

    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("zuora-mediation-exporter: \(message)\n".utf8))
        Foundation.exit(1)
    }
}

/// Polls until graceful shutdown.
struct PollerService: Service {
    let poller: Poller

    func run() async throws {
        await cancelWhenGracefulShutdown { await poller.run() }
    }
}

/// Keeps the HTTP server up until graceful shutdown, then stops it.
struct HTTPService: Service {
    let server: MicroHTTPServer

    func run() async throws {
        try? await gracefulShutdown()
        server.stop()
    }
}

enum LevelOption: String, ExpressibleByArgument, CaseIterable {
    case debug, info, warn, error

    var level: Logger.Level {
        switch self {
        case .debug: .debug
        case .info: .info
        case .warn: .warning
        case .error: .error
        }
    }
}

enum FormatOption: String, ExpressibleByArgument, CaseIterable {
    case logfmt, json

    var format: LineLogHandler.Format { self == .json ? .json : .logfmt }
}
