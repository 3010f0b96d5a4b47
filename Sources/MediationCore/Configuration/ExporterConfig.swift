import Yams

/// The exporter's configuration file, validated. Secrets are not in here: only where to read them.
public struct ExporterConfig: Sendable, Equatable {
    public struct Zuora: Sendable, Equatable {
        public var baseURL: String
        public var clientIdFile: String?
        public var clientSecretFile: String?
        public var entityIds: String?
        public var orgIds: String?
        public var trackId: String?
        public var timeout: Double = 10
        public var maxConcurrency: Int = 4
        public var requestBudget = BudgetLimits()
        /// PEM bundle of the CAs to trust for Zuora's certificate instead of the system's.
        public var caFile: String?
        /// Turns certificate verification off. Only ever for a test set-up; logged loudly.
        public var insecureSkipVerify = false
        /// `production`, `developer_sandbox` or `api_sandbox`: `--config.check` warns against its limits.
        public var tenantType: String?
    }

    public var zuora: Zuora
    public var pollInterval: Double = 30
    /// For meters at rest (NEVER_RUN, COMPLETED, FAILED, CANCELED, …), which change only when a run starts.
    public var idlePollInterval: Double = 300
    /// For meters at rest while the callout receiver is enabled and has received callouts recently.
    public var webhookIdlePollInterval: Double = 900
    public var meters: [MeterSpec]
    /// The callout receiver; nil when the section is absent (polling only).
    public var webhook: WebhookConfig?
    /// Record counts from the summary API; off unless `summary.enabled`.
    public var summary = SummaryConfig()

    public static let defaultVersion = "0.0.1"

    /// Parses and validates a YAML document; the first problem found is thrown.
    public static func parse(yaml: String) throws(ConfigError) -> ExporterConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: ConfigText.droppingByteOrderMark(yaml))
        } catch {
            throw ConfigError(path: "", line: nil, message: "not valid YAML: \(error)")
        }
        guard let root else {
            throw ConfigError(
                path: "",
                line: nil,
                message: "the file is empty; it needs at least zuora.base_url and meters"
            )
        }
        let top = try ConfigNode(node: root, path: "").mapping(allowed: [
            "zuora", "poll_interval", "idle_poll_interval", "webhook_idle_poll_interval", "meters", "webhook",
            "summary",
        ])
        guard let zuoraNode = top["zuora"] else {
            throw ConfigError(path: "zuora", line: nil, message: "missing; add a zuora: section with base_url")
        }
        var config = ExporterConfig(zuora: try parseZuora(zuoraNode), meters: [])
        if let interval = top["poll_interval"] { config.pollInterval = try interval.duration(atLeast: 0.001) }
        if let interval = top["idle_poll_interval"] { config.idlePollInterval = try interval.duration(atLeast: 0.001) }
        if let interval = top["webhook_idle_poll_interval"] {
            config.webhookIdlePollInterval = try interval.duration(atLeast: 0.001)
        }
        guard let metersNode = top["meters"] else {
            throw ConfigError(path: "meters", line: nil, message: "missing; list the meters to watch, each with an id")
        }
        config.meters = try parseMeters(metersNode)
        if let webhook = top["webhook"] { config.webhook = try WebhookConfig.parse(webhook) }
        if let summary = top["summary"] { config.summary = try SummaryConfig.parse(summary) }
        return config
    }

    private static func parseZuora(_ node: ConfigNode) throws(ConfigError) -> Zuora {
        let keys = [
            "base_url", "client_id_file", "client_secret_file", "entity_ids", "org_ids", "track_id", "timeout",
            "max_concurrency", "request_budget", "tenant_type", "ca_file", "insecure_skip_verify",
        ]
        let entries = try node.mapping(allowed: keys)
        guard let baseNode = entries["base_url"] else {
            throw node.error("base_url is missing; e.g. base_url: https://rest.zuora.com")
        }
        let base = try baseNode.string()
        guard let parsed = BaseURL(base) else {
            throw baseNode.error("\"\(base)\" is not an http(s) URL with a host, e.g. https://rest.zuora.com")
        }
        var zuora = Zuora(baseURL: parsed.text)
        func optionalString(_ key: String) throws(ConfigError) -> String? {
            guard let entry = entries[key] else { return nil }
            let value = try entry.string()
            return value.isEmpty ? nil : value
        }
        zuora.clientIdFile = try optionalString("client_id_file")
        zuora.clientSecretFile = try optionalString("client_secret_file")
        zuora.entityIds = try optionalString("entity_ids")
        zuora.orgIds = try optionalString("org_ids")
        // These become request headers: a CR or LF would start a header of the file's choosing.
        for key in ["entity_ids", "org_ids"] {
            if let entry = entries[key], let problem = ConfigText.headerValueProblem(try entry.string()) {
                throw entry.error(problem)
            }
        }
        if ConfigText.headerValueProblem(base) != nil || base.unicodeScalars.contains(where: { $0.value <= 0x20 }) {
            throw baseNode.error("must not contain spaces or control characters")
        }
        zuora.trackId = try optionalString("track_id")
        zuora.caFile = try optionalString("ca_file")
        if let insecure = entries["insecure_skip_verify"] { zuora.insecureSkipVerify = try insecure.bool() }
        if let trackId = zuora.trackId, let problem = TrackId.problem(trackId) {
            throw entries["track_id"]!.error(problem)
        }
        if let timeout = entries["timeout"] { zuora.timeout = try timeout.duration(atLeast: 0.001) }
        if let concurrency = entries["max_concurrency"] { zuora.maxConcurrency = try concurrency.int(in: 1...256) }
        if let budget = entries["request_budget"] {
            let windows = try budget.mapping(allowed: ["per_minute", "per_hour", "per_day"])
            zuora.requestBudget = BudgetLimits(
                perMinute: try windows["per_minute"]?.int(in: 1...100_000_000),
                perHour: try windows["per_hour"]?.int(in: 1...100_000_000),
                perDay: try windows["per_day"]?.int(in: 1...100_000_000)
            )
        }
        if let tenant = entries["tenant_type"] {
            let name = try tenant.string()
            let names = BudgetLimits.tenantTypes.map(\.name)
            guard names.contains(name) else { throw tenant.error("must be one of \(names.joined(separator: ", "))") }
            zuora.tenantType = name
        }
        return zuora
    }

    private static func parseMeters(_ node: ConfigNode) throws(ConfigError) -> [MeterSpec] {
        // `meters:` with nothing after it: no configured meters (callouts may still add some).
        if case .scalar = node.node, node.node.tag.rawValue == Tag.Name.null.rawValue { return [] }
        var specs: [MeterSpec] = []
        var seen: [MeterKey: String] = [:]
        for item in try node.sequence() {
            let entries = try item.mapping(allowed: ["id", "version", "name"])
            guard let idNode = entries["id"] else {
                throw item.error("id is missing; every meter needs its integer id")
            }
            let id = try idNode.int(in: 1...Int.max)
            let version = try entries["version"]?.text() ?? defaultVersion
            guard !version.isEmpty else {
                throw entries["version"]!.error("must not be empty; Zuora's default is 0.0.1")
            }
            let name = try entries["name"]?.text()
            let key = MeterKey(meterId: Int64(id), version: version)
            if let first = seen[key] {
                throw item.error("duplicate meter: id \(id) version \(version) is already listed at \(first)")
            }
            seen[key] = item.path
            specs.append(MeterSpec(key: key, name: name))
        }
        return specs
    }
}
