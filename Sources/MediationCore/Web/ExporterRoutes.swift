import Synchronization

/// The exporter's HTTP endpoints as a plain handler: /metrics, the landing page, health and readiness.
/// The transport (libmicrohttpd) is elsewhere; this is testable with values.
public struct ExporterRoutes: HTTPHandler {
    public struct Settings: Sendable {
        public var telemetryPath: String
        public var version: String
        /// Scrapes served at once; more are answered 503 (a scrape storm must not exhaust the server).
        public var maxConcurrentScrapes: Int
        /// `POST /-/reload` (`--web.enable-lifecycle`, as Prometheus has it); off, it is answered 403.
        public var lifecycleEnabled: Bool

        public init(
            telemetryPath: String,
            version: String,
            maxConcurrentScrapes: Int = 10,
            lifecycleEnabled: Bool = false
        ) {
            self.telemetryPath = telemetryPath
            self.version = version
            self.maxConcurrentScrapes = maxConcurrentScrapes
            self.lifecycleEnabled = lifecycleEnabled
        }
    }

    private let settings: Settings
    private let hub: StatusHub
    private let scrapesInProgress = ScrapeCounter()
    /// The series rendered per scrape (process and request metrics), after the cached per-meter part.
    private let dynamicMetrics: @Sendable () -> [UInt8]
    private let isReady: @Sendable () -> Bool
    /// A further route for a path, e.g. the callout receiver (looked up per request: it can change on reload).
    private let extraRoute: @Sendable (String) -> (any HTTPHandler)?
    /// Re-reads the configuration: `POST /-/reload`.
    private let reload: @Sendable () -> Result<String, ConfigError>

    public init(
        settings: Settings,
        hub: StatusHub,
        dynamicMetrics: @escaping @Sendable () -> [UInt8],
        isReady: @escaping @Sendable () -> Bool,
        extraRoute: @escaping @Sendable (String) -> (any HTTPHandler)? = { _ in nil },
        reload: @escaping @Sendable () -> Result<String, ConfigError> = {
            .failure(ConfigError(path: "", line: nil, message: "reload is not available"))
        }
    ) {
        self.settings = settings
        self.hub = hub
        self.dynamicMetrics = dynamicMetrics
        self.isReady = isReady
        self.extraRoute = extraRoute
        self.reload = reload
    }

    public func admit(_ head: HTTPRequest) -> Admission {
        if let route = extraRoute(head.path) { return route.admit(head) }
        if head.path == "/-/reload", !settings.lifecycleEnabled { return .refuse(Self.lifecycleDisabled) }
        return .proceed(maxBodyBytes: HTTPRequest.smallBodyBytes)
    }

    static let lifecycleDisabled = HTTPResponse.text(
        403,
        "Lifecycle API is not enabled: start the exporter with --web.enable-lifecycle, or send it SIGHUP.\n"
    )

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        if let route = extraRoute(request.path) { return route.handle(request) }
        switch request.path {
        case settings.telemetryPath:
            guard request.method == "GET" || request.method == "HEAD" else { return methodNotAllowed("GET") }
            guard scrapesInProgress.enter(limit: settings.maxConcurrentScrapes) else {
                return .text(503, "Too many concurrent scrapes (limit \(settings.maxConcurrentScrapes)); try again.\n")
            }
            defer { scrapesInProgress.leave() }
            return metrics(acceptsGzip: Self.acceptsGzip(request.header("Accept-Encoding")))
        case "/":
            guard request.method == "GET" || request.method == "HEAD" else { return methodNotAllowed("GET") }
            let page = LandingPage.render(
                version: settings.version,
                telemetryPath: settings.telemetryPath,
                meters: hub.snapshot()
            )
            return HTTPResponse(
                status: 200,
                headers: [("Content-Type", "text/html; charset=utf-8")],
                body: Array(page.utf8)
            )
        case "/-/healthy":
            return .text(200, "Healthy.\n")
        case "/-/reload":
            guard settings.lifecycleEnabled else { return Self.lifecycleDisabled }
            guard request.method == "POST" || request.method == "PUT" else { return methodNotAllowed("POST") }
            switch reload() {
            case .success(let message): return .text(200, message + "\n")
            case .failure(let error): return .text(500, "reload refused, the running configuration stays: \(error)\n")
            }
        case "/-/ready":
            return isReady()
                ? .text(200, "Ready.\n") : .text(503, "Not ready: the first poll cycle has not finished.\n")
        default:
            return .text(404, "Not found. Metrics are at \(settings.telemetryPath).\n")
        }
    }

    /// The cached per-meter part followed by the per-scrape part. For gzip, the cached part's
    /// compressed bytes are reused and only the small per-scrape part is compressed.
    private func metrics(acceptsGzip: Bool) -> HTTPResponse {
        let dynamic = dynamicMetrics()
        var headers = [("Content-Type", Exposition.contentType)]
        if acceptsGzip {
            headers.append(("Content-Encoding", "gzip"))
            let parts = Gzip.joinedParts(hub.store.bodySegments() + [Gzip.segment(dynamic, final: true)])
            return HTTPResponse(status: 200, headers: headers, bodyParts: parts)
        }
        return HTTPResponse(status: 200, headers: headers, source: hub.store.plainBody(trailer: dynamic))
    }

    private func methodNotAllowed(_ allowed: String) -> HTTPResponse {
        var response = HTTPResponse.text(405, "Method not allowed; use \(allowed).\n")
        response.headers.append(("Allow", allowed))
        return response
    }

    /// True when the client accepts gzip: an explicit `gzip` entry decides by its quality; without one,
    /// a `*` entry does (RFC 9110, section 12.5.3).
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        var wildcard: Double?
        for part in header.split(separator: ",") {
            let fields = part.split(separator: ";").map { $0.trimmingCharacters(in: " \t") }
            guard let coding = fields.first?.lowercased() else { continue }
            let quality = fields.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if coding == "gzip" { return quality > 0 }
            if coding == "*" { wildcard = quality }
        }
        return (wildcard ?? 0) > 0
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
