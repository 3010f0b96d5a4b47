import Foundation
import HTTPServer
import Logging
import MediationCore
import Prometheus
import Synchronization
import ZuoraClient

/// Everything a configuration file decides, loaded and validated together, so that a reload either
/// applies all of it or none of it.
struct LoadedConfig {
    let config: ExporterConfig
    let credentials: ZuoraCredentials
    let webhookSecrets: WebhookSecrets?

    static func load(file: String, logger: Logger) throws(ConfigError) -> LoadedConfig {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigError(
                path: "",
                line: nil,
                message: "cannot read \(file); check --config.file and its permissions"
            )
        }
        let config = try ExporterConfig.parse(yaml: String(decoding: data, as: UTF8.self))
        let credentials = try CredentialLoader.load(
            config.zuora,
            environment: ProcessInfo.processInfo.environment,
            logger: logger
        )
        let secrets = try config.webhook.map { webhook throws(ConfigError) in
            try CredentialLoader.loadWebhook(webhook, logger: logger)
        }
        return LoadedConfig(config: config, credentials: credentials, webhookSecrets: secrets)
    }
}

/// The running exporter: one hub (tracker and metric store), the Zuora client, the poller, the HTTP
/// routes, and the applier that re-reads the configuration and applies it in place.
final class ExporterApp: Sendable {
    let metrics: ExporterMetrics
    let hub = StatusHub()
    let poller: Poller
    /// Asks for ended sessions' summaries (idle while `summary.enabled` is false).
    let summaries: SummaryScheduler
    let routes: ExporterRoutes
    /// Nil without `--storage.path`.
    let persister: StatePersister?
    private let applier: ConfigApplier

    init(
        loaded: LoadedConfig,
        configFile: String,
        shard: Shard,
        telemetryPath: String,
        maxConcurrentScrapes: Int = 10,
        lifecycleEnabled: Bool = false,
        forwarding: PeerForwarding? = nil,
        storagePath: String? = nil,
        logger: Logger
    ) {
        let metrics = ExporterMetrics(version: BuildInfo.version, revision: BuildInfo.revision)
        self.metrics = metrics
        metrics.setShard(index: shard.index, total: shard.total)
        let client = ZuoraAPIClient(
            settings: .init(loaded.config.zuora),
            credentials: loaded.credentials,
            tls: TLSSettings(
                caFile: loaded.config.zuora.caFile,
                insecureSkipVerify: loaded.config.zuora.insecureSkipVerify
            ),
            budget: loaded.config.zuora.requestBudget.share(of: shard.total),
            maxConcurrency: Self.transportSlots(loaded.config),
            metrics: metrics,
            logger: logger,
            userAgent: "zuora-mediation-exporter/\(BuildInfo.version)"
        )
        let webhook = WebhookSlot()
        // Recent notification ids and the last accepted callout: kept across reloads, so that a reload
        // neither forgets which callouts were handled nor resets the callout-health signal.
        let calloutMemory = CalloutMemory(capacity: loaded.config.webhook?.dedupWindow ?? 10_000)
        let poller = Poller(
            hub: hub,
            fetcher: client,
            settings: Self.pollSettings(loaded.config, shard: shard),
            metrics: metrics,
            logger: logger,
            calloutsHealthy: { webhook.current != nil && calloutMemory.acceptedRecently() }
        )
        self.poller = poller
        summaries = SummaryScheduler(
            hub: hub,
            fetcher: client,
            metrics: metrics,
            logger: logger,
            tenantPaused: { poller.isPaused }
        )
        let applier = ConfigApplier(
            configFile: configFile,
            shard: shard,
            hub: hub,
            poller: poller,
            client: client,
            metrics: metrics,
            webhook: webhook,
            calloutMemory: calloutMemory,
            forwarding: forwarding,
            logger: logger
        )
        self.applier = applier
        // The routes hold the applier, not the app: nothing points back up, so no weak reference is needed.
        routes = ExporterRoutes(
            settings: .init(
                telemetryPath: telemetryPath,
                version: BuildInfo.version,
                maxConcurrentScrapes: maxConcurrentScrapes,
                lifecycleEnabled: lifecycleEnabled
            ),
            hub: hub,
            dynamicMetrics: { metrics.registry.emitToBuffer() + ProcessMetrics.render() },
            isReady: { poller.isReady },
            extraRoute: { path in webhook.current.flatMap { $0.paths.contains(path) ? $0.receiver : nil } },
            reload: { applier.reload() }
        )
        if loaded.config.zuora.insecureSkipVerify {
            let warning =
                "TLS certificate verification towards Zuora is OFF (zuora.insecure_skip_verify): anyone on the path "
                + "can read the credentials and forge answers. Never use this in production."
            logger.critical("\(warning)")
        }
        applier.apply(loaded)
        // Before the first poll: the saved state is in place when polling starts.
        if let storagePath {
            let persister = StatePersister(
                store: StateStore(directory: storagePath),
                hub: hub,
                calloutMemory: calloutMemory,
                logger: logger
            )
            let webhookConfigured = loaded.config.webhook != nil
            persister.restore(maxDynamicMeters: loaded.config.webhook?.maxDynamicMeters ?? 0) { key in
                webhookConfigured && shard.owns(key)
            }
            self.persister = persister
        } else {
            persister = nil
        }
        metrics.recordReload(successful: true, at: SystemWallClock().now())
    }

    /// Transfers libcurl runs at once: one more than polls may use when summaries are on, so that a hung
    /// summary never takes a poll's place.
    static func transportSlots(_ config: ExporterConfig) -> Int {
        config.zuora.maxConcurrency + (config.summary.enabled ? 1 : 0)
    }

    static func pollSettings(_ config: ExporterConfig, shard: Shard) -> PollSettings {
        var settings = PollSettings(
            plan: PollPlan(
                activeInterval: config.pollInterval,
                restInterval: max(config.pollInterval, config.idlePollInterval),
                budget: config.zuora.requestBudget.share(of: shard.total)
            ),
            maxConcurrency: config.zuora.maxConcurrency,
            webhookRestInterval: config.webhook == nil ? nil : config.webhookIdlePollInterval
        )
        settings.dynamicMeterTTL = config.webhook?.dynamicMeterTTL
        return settings
    }

    /// Re-reads the configuration file. An invalid one is refused and the running one stays.
    func reload() -> Result<String, ConfigError> { applier.reload() }
}

/// Applies a loaded configuration to the running parts, at start-up and on every reload (SIGHUP or
/// `POST /-/reload`); one reload at a time.
final class ConfigApplier: Sendable {
    private let configFile: String
    private let shard: Shard
    private let hub: StatusHub
    private let poller: Poller
    private let client: ZuoraAPIClient
    private let metrics: ExporterMetrics
    private let webhook: WebhookSlot
    private let calloutMemory: CalloutMemory
    private let forwarding: PeerForwarding?
    private let logger: Logger
    private let reloading = Mutex(())

    init(
        configFile: String,
        shard: Shard,
        hub: StatusHub,
        poller: Poller,
        client: ZuoraAPIClient,
        metrics: ExporterMetrics,
        webhook: WebhookSlot,
        calloutMemory: CalloutMemory,
        forwarding: PeerForwarding?,
        logger: Logger
    ) {
        self.configFile = configFile
        self.shard = shard
        self.hub = hub
        self.poller = poller
        self.client = client
        self.metrics = metrics
        self.webhook = webhook
        self.calloutMemory = calloutMemory
        self.forwarding = forwarding
        self.logger = logger
    }

    func apply(_ loaded: LoadedConfig) {
        let config = loaded.config
        let owned = config.meters.filter { shard.owns($0.key) }
        hub.configure(owned)
        // The records' limits before anything is restored or summarised; summaries wait behind one poll
        // of every owned meter-version in each budget window.
        hub.configureRecords(config.summary)
        client.setPollReserve(owned.count)
        if config.summary.enabled { metrics.enableSummarySeries() }
        let settings = ExporterApp.pollSettings(config, shard: shard)
        poller.update(settings)
        metrics.setConfiguredIntervals(active: settings.plan.activeInterval, rest: settings.plan.restInterval)
        if let webhookConfig = config.webhook, let secrets = loaded.webhookSecrets {
            if webhookConfig.insecure {
                logger.warning("the callout receiver accepts unauthenticated callouts (webhook.insecure)")
            }
            let poller = self.poller
            calloutMemory.resize(to: webhookConfig.dedupWindow)
            let receiver = WebhookReceiver(
                config: webhookConfig,
                secrets: secrets,
                hub: hub,
                metrics: metrics,
                logger: logger,
                memory: calloutMemory,
                owns: { [shard] in shard.owns($0) },
                forwarding: forwarding,
                onActive: { poller.expedite($0) }
            )
            webhook.current = ([webhookConfig.path, webhookConfig.periodicPath], receiver)
        } else {
            webhook.current = nil
        }
    }

    func reload() -> Result<String, ConfigError> {
        reloading.withLock { _ in
            let loaded: LoadedConfig
            do throws(ConfigError) {
                loaded = try LoadedConfig.load(file: configFile, logger: logger)
            } catch {
                metrics.recordReload(successful: false, at: SystemWallClock().now())
                logger.error(
                    "configuration reload failed; keeping the running configuration",
                    metadata: ["error": "\(error)"]
                )
                return .failure(error)
            }
            // Synchronous, and before the meters change: the new credentials and budget caps are in force
            // before the first poll of the new configuration and before the reload answers.
            client.update(
                settings: ZuoraAPIClient.Settings(loaded.config.zuora),
                credentials: loaded.credentials,
                budget: loaded.config.zuora.requestBudget.share(of: shard.total),
                maxConcurrency: ExporterApp.transportSlots(loaded.config)
            )
            apply(loaded)
            metrics.recordReload(successful: true, at: SystemWallClock().now())
            let count = loaded.config.meters.filter { shard.owns($0.key) }.count
            logger.info("configuration reloaded", metadata: ["meters": "\(count)"])
            return .success("reloaded: \(count) meter-versions")
        }
    }
}

/// The callout receiver in force; replaced on reload.
final class WebhookSlot: Sendable {
    private let slot = Mutex<(paths: [String], receiver: WebhookReceiver)?>(nil)

    /// The receiver and the paths it answers (status and periodic callouts).
    var current: (paths: [String], receiver: WebhookReceiver)? {
        get { slot.withLock { $0 } }
        set { slot.withLock { $0 = newValue } }
    }
}

/// Reads `--web.config.file` and the PEM files it names.
enum WebConfigLoader {
    static func load(_ file: String) throws(ConfigError) -> WebConfig {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigError(path: "", line: nil, message: "cannot read \(file)")
        }
        return try WebConfig.parse(yaml: String(decoding: data, as: UTF8.self))
    }

    static func tlsMaterial(_ config: WebConfig) throws(ConfigError) -> TLSMaterial? {
        guard let tls = config.tls else { return nil }
        func read(_ path: String, _ key: String) throws(ConfigError) -> String {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigError(path: "tls_server_config.\(key)", line: nil, message: "cannot read \(path)")
            }
            return String(decoding: data, as: UTF8.self)
        }
        var clientCA: String?
        if let file = tls.clientCAFile { clientCA = try read(file, "client_ca_file") }
        return TLSMaterial(
            keyPEM: try read(tls.keyFile, "key_file"),
            certificatePEM: try read(tls.certFile, "cert_file"),
            clientCAPEM: clientCA,
            clientAuth: tls.clientAuth,
            priorities: config.tlsPriorities
        )
    }
}
