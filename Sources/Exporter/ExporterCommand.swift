import ArgumentParser
import Foundation
import HTTPServer
import Logging
import MediationCore
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

    @Flag(name: .customLong("config.check"), help: "Validate the configuration, print its request cost, and exit.")
    var configCheck = false

    @Option(name: .customLong("web.listen-address"), help: "Address to listen on, e.g. :9817 or 127.0.0.1:9817.")
    var listenAddress = ":9817"

    @Option(name: .customLong("web.telemetry-path"), help: "Path under which to expose metrics.")
    var telemetryPath = "/metrics"

    @Option(name: .customLong("log.level"), help: "Only log messages at or above: debug, info, warn, error.")
    var logLevel: LevelOption = .info

    @Option(name: .customLong("log.format"), help: "Log line format: logfmt or json.")
    var logFormat: FormatOption = .logfmt

    @Option(name: .customLong("web.config.file"), help: "exporter-toolkit web configuration: TLS and basic auth.")
    var webConfigFile: String?

    // Numeric flags are read as text (`.unconditional` lets "-1" through) and checked by FlagValue, so that
    // a bad value gets a message naming the flag and its range, and exit code 1.
    @Option(
        name: .customLong("web.max-connections"),
        parsing: .unconditional,
        help: "Connections the HTTP server accepts at once."
    )
    var maxConnections = "1024"

    @Option(
        name: .customLong("web.max-connections-per-client"),
        parsing: .unconditional,
        help: "Connections one client address may hold at once (default: 32, at most --web.max-connections)."
    )
    var maxConnectionsPerClient: String?

    @Option(
        name: .customLong("web.idle-timeout"),
        parsing: .unconditional,
        help: "Close connections idle this long (e.g. 30s)."
    )
    var idleTimeout = "30s"

    @Option(
        name: .customLong("web.read-timeout"),
        parsing: .unconditional,
        help: "Close a connection whose request is not in this long after it began (trickled bytes do not extend it)."
    )
    var readTimeout = "10s"

    @Option(
        name: .customLong("web.max-concurrent-scrapes"),
        parsing: .unconditional,
        help: "Scrapes answered at once; more get 503."
    )
    var maxConcurrentScrapes = "10"

    @Flag(
        name: .customLong("web.enable-lifecycle"),
        help: "Enable POST /-/reload (SIGHUP reloads the configuration either way)."
    )
    var enableLifecycle = false

    @Option(
        name: .customLong("shard"),
        parsing: .unconditional,
        help: "This replica's shard, 0-based (with --total-shards)."
    )
    var shard = "0"

    @Option(
        name: .customLong("total-shards"),
        parsing: .unconditional,
        help: "How many replicas share the meters (and the request budget)."
    )
    var totalShards = "1"

    @Option(
        name: .customLong("shard.peer-url-template"),
        help: "Forward callouts for other shards' meters to this URL, {shard} replaced by the owner's shard number."
    )
    var peerURLTemplate: String?

    @Option(
        name: .customLong("shard.peer-secret-file"),
        help: "File with the secret the replicas share to authenticate forwarded callouts (with the template)."
    )
    var peerSecretFile: String?

    @Option(
        name: .customLong("storage.path"),
        help: "Directory to keep meter state in across restarts (state.json); none by default: nothing is kept."
    )
    var storagePath: String?

    func run() async throws {
        let format = logFormat.format
        let level = logLevel.level
        LoggingSystem.bootstrap { LineLogHandler(label: $0, format: format, level: level) }
        let logger = Logger(label: "zuora-mediation-exporter")

        let shard = Self.shardFlags(index: self.shard, total: totalShards)
        if let problem = shard.problem { Self.fail(problem) }
        let forwarding = Self.peerForwarding(template: peerURLTemplate, secretFile: peerSecretFile, shard, logger)
        let loaded: LoadedConfig
        do { loaded = try LoadedConfig.load(file: configFile, logger: logger) } catch {
            Self.fail("invalid configuration in \(configFile): \(error)")
        }
        if configCheck {
            let config = loaded.config
            let owned = config.meters.filter { shard.owns($0.key) }.count
            print(
                "\(configFile): valid; \(owned) meter-versions, poll interval \(DurationText.format(config.pollInterval)), "
                    + "at rest \(DurationText.format(config.idlePollInterval))"
            )
            let plan = ExporterApp.pollSettings(config, shard: shard).plan
            for line in plan.report(meters: owned, tenantType: config.zuora.tenantType) { print(line) }
            if config.summary.enabled { print(config.summary.costLine) }
            return
        }
        guard telemetryPath.hasPrefix("/") else { Self.fail("--web.telemetry-path must start with /") }
        let address: ListenAddress
        do { address = try ListenAddress(listenAddress) } catch { Self.fail("--web.listen-address: \(error)") }

        var serverSettings = HTTPServerSettings(listenAddress: address)
        let maxConcurrentScrapes: Int
        do {
            serverSettings.maxConnections = try FlagValue.integer(
                maxConnections,
                flag: "--web.max-connections",
                in: 1...1_000_000
            )
            serverSettings.maxConnectionsPerClient =
                try maxConnectionsPerClient.map { text throws(ServerError) in
                    try FlagValue.integer(
                        text,
                        flag: "--web.max-connections-per-client",
                        in: 1...serverSettings.maxConnections
                    )
                } ?? min(32, serverSettings.maxConnections)
            // Whole seconds: libmicrohttpd's idle timeout counts in seconds.
            serverSettings.idleTimeout = Int(
                try FlagValue.duration(idleTimeout, flag: "--web.idle-timeout", in: 1...86_400).rounded(.up)
            )
            serverSettings.readTimeout = try FlagValue.duration(readTimeout, flag: "--web.read-timeout", in: 1...86_400)
            maxConcurrentScrapes = try FlagValue.integer(
                self.maxConcurrentScrapes,
                flag: "--web.max-concurrent-scrapes",
                in: 1...10_000
            )
        } catch { Self.fail("\(error)") }
        ProcessLimits.raiseOpenFiles(logger: logger)
        // More threads than cores: a scrape arriving during a storm is not queued behind busy workers.
        serverSettings.threads = 8
        var webConfig = WebConfig()
        if let webConfigFile {
            do { webConfig = try WebConfigLoader.load(webConfigFile) } catch {
                Self.fail("invalid web configuration in \(webConfigFile): \(error)")
            }
            do { serverSettings.tls = try WebConfigLoader.tlsMaterial(webConfig) } catch {
                Self.fail("web configuration \(webConfigFile): \(error)")
            }
            if let files = webConfig.tls {
                serverSettings.tls?.certificateOrigin = "tls_server_config.cert_file (\(files.certFile))"
                serverSettings.tls?.keyOrigin = "tls_server_config.key_file (\(files.keyFile))"
                serverSettings.tls?.clientCAOrigin = "tls_server_config.client_ca_file (\(files.clientCAFile ?? ""))"
            }
            do { try serverSettings.tls?.validate() } catch {
                Self.fail("web configuration \(webConfigFile): \(error)")
            }
        }

        if let storagePath {
            guard !storagePath.isEmpty else { Self.fail("--storage.path must not be empty") }
            do { try FileManager.default.createDirectory(atPath: storagePath, withIntermediateDirectories: true) } catch
            {
                logger.warning(
                    "cannot create --storage.path; state will not be kept",
                    metadata: ["path": "\(storagePath)", "error": "\(error)"]
                )
            }
        }
        let app = ExporterApp(
            loaded: loaded,
            configFile: configFile,
            shard: shard,
            telemetryPath: telemetryPath,
            maxConcurrentScrapes: maxConcurrentScrapes,
            lifecycleEnabled: enableLifecycle,
            forwarding: forwarding,
            storagePath: storagePath,
            logger: logger
        )
        let handler = BasicAuthGate(users: webConfig.basicAuthUsers, inner: app.routes)
        let server = MicroHTTPServer(settings: serverSettings, handler: handler)
        do { try server.start() } catch { Self.fail("\(error)") }
        logger.info(
            "zuora-mediation-exporter started",
            metadata: [
                "version": "\(BuildInfo.version)", "listen": "\(address)", "shard": "\(shard.index)/\(shard.total)",
                "tls": "\(serverSettings.tls != nil)",
                "client_auth": "\(serverSettings.tls?.clientAuth.rawValue ?? "none")",
                "basic_auth": "\(!webConfig.basicAuthUsers.isEmpty)",
                "meters": "\(app.hub.configuredKeys().count)", "base_url": "\(loaded.config.zuora.baseURL)",
                "peer_url_template": "\(forwarding == nil ? "" : peerURLTemplate ?? "")",
                "storage_path": "\(storagePath ?? "")",
            ]
        )
        // The state service is listed first: services stop in reverse order, so it saves last, after the
        // poller stopped.
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let persister = app.persister { services.append(.init(service: StateService(persister: persister))) }
        let group = ServiceGroup(
            configuration: .init(
                services: services + [
                    .init(service: PollerService(poller: app.poller)),
                    .init(service: SummaryService(summaries: app.summaries)),
                    .init(service: HTTPService(server: server)),
                    .init(service: ReloadService(app: app)),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
        logger.info("zuora-mediation-exporter stopped")
    }

    /// `--shard` and `--total-shards`, each within its range.
    static func shardFlags(index: String, total: String) -> Shard {
        do {
            let total = try FlagValue.integer(total, flag: "--total-shards", in: 1...10_000)
            return Shard(index: try FlagValue.integer(index, flag: "--shard", in: 0...(total - 1)), total: total)
        } catch { fail("\(error)") }
    }

    /// `--shard.peer-url-template` and `--shard.peer-secret-file`, both or neither; the secret is read once,
    /// here, and never logged.
    static func peerForwarding(
        template: String?,
        secretFile: String?,
        _ shard: Shard,
        _ logger: Logger
    ) -> PeerForwarding? {
        guard template != nil || secretFile != nil else { return nil }
        guard let template, let secretFile else {
            fail("--shard.peer-url-template and --shard.peer-secret-file go together: give both or neither")
        }
        let checked: String
        let secret: String
        do {
            checked = try FlagValue.urlTemplate(
                template,
                flag: "--shard.peer-url-template",
                placeholder: PeerForwarder.placeholder,
                values: 0..<shard.total
            )
        } catch { fail("\(error)") }
        do { secret = try CredentialLoader.file(secretFile, flag: "--shard.peer-secret-file", logger: logger) } catch {
            fail("\(error)")
        }
        return PeerForwarding(
            secret: Array(secret.utf8),
            forwarder: PeerForwarder(template: checked, userAgent: "zuora-mediation-exporter/\(BuildInfo.version)"),
            owner: { shard.owner(of: $0) }
        )
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

/// Asks for session summaries until graceful shutdown; a summary in flight is cancelled at once.
struct SummaryService: Service {
    let summaries: SummaryScheduler

    func run() async throws {
        await cancelWhenGracefulShutdown { await summaries.run() }
    }
}

/// Saves the state to `--storage.path` every few seconds when it changed, and once more on shutdown.
struct StateService: Service {
    let persister: StatePersister

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(StatePersister.interval))
                if Task.isCancelled { break }
                persister.save()
            }
        }
        persister.save(force: true)
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

/// SIGHUP re-reads the configuration.
struct ReloadService: Service {
    let app: ExporterApp

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals { _ = app.reload() }
        }
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
