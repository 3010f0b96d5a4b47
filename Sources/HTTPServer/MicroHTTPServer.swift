import CMicroHTTPD
import CShims
public import MediationCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Limits and threads of the HTTP server.
public struct HTTPServerSettings: Sendable {
    public var listenAddress: ListenAddress
    public var maxConnections: Int = 1024
    /// Connections one client address may hold at once; 0: no limit of its own.
    public var maxConnectionsPerClient: Int = 0
    /// Seconds a connection may stay idle (each byte received restarts it).
    public var idleTimeout: Int = 30
    /// Seconds a request may take to arrive in full, however steadily its bytes come (slowloris protection).
    public var readTimeout: Double = 10
    /// Size of the thread pool; 0 gives each connection its own thread instead, so that a handler that
    /// blocks (the simulator's injected delays) holds up only its own connection, not every connection
    /// that shares its pool thread.
    public var threads: Int = 4
    /// An upper bound on the body limit a handler's `admit` gives, whatever it gives.
    public var maxBodyBytes: Int = 1 << 20
    /// PEM contents for TLS, or nil for plain HTTP.
    public var tls: TLSMaterial?

    public init(listenAddress: ListenAddress) {
        self.listenAddress = listenAddress
    }
}

public struct TLSMaterial: Sendable {
    public var keyPEM: String
    public var certificatePEM: String
    /// The CA that signs client certificates; with it, clients are asked for one (mutual TLS).
    public var clientCAPEM: String?
    public var clientAuth: WebConfig.ClientAuth
    public var priorities: String?
    /// How error messages name the PEM inputs (e.g. the configuration field and file they came from).
    public var keyOrigin = "the TLS key"
    public var certificateOrigin = "the TLS certificate"
    public var clientCAOrigin = "the client CA"

    public init(
        keyPEM: String,
        certificatePEM: String,
        clientCAPEM: String? = nil,
        clientAuth: WebConfig.ClientAuth = .noClientCert,
        priorities: String? = nil
    ) {
        self.keyPEM = keyPEM
        self.certificatePEM = certificatePEM
        self.clientCAPEM = clientCAPEM
        self.clientAuth = clientAuth
        self.priorities = priorities
    }
}

/// libmicrohttpd as a transport for an `HTTPHandler`: epoll with an internal thread pool. The handler
/// runs on those threads, so it must answer from memory, quickly.
public final class MicroHTTPServer: Sendable {
    private let settings: HTTPServerSettings
    private let context: ServerContext
    private let daemon = Mutex<DaemonHandle?>(nil)

    public init(settings: HTTPServerSettings, handler: any HTTPHandler) {
        self.settings = settings
        self.context = ServerContext(
            handler: handler,
            maxBodyBytes: settings.maxBodyBytes,
            clientAuth: settings.tls?.clientAuth ?? .noClientCert,
            deadline: ReadDeadline(timeoutSeconds: settings.readTimeout)
        )
    }

    public func start() throws(ServerError) {
        // libmicrohttpd reports bad TLS material only as a failure to start, with a meaningless errno.
        try settings.tls?.validate()
        // libmicrohttpd does not combine epoll with a thread per connection.
        var flags =
            settings.threads > 0
            ? UInt32(MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue)
            : UInt32(
                MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_THREAD_PER_CONNECTION.rawValue
                    | MHD_USE_POLL.rawValue
            )
        if settings.tls != nil { flags |= UInt32(MHD_USE_TLS.rawValue) }
        var ipv4 = sockaddr_in()
        var ipv6 = sockaddr_in6()
        let started: OpaquePointer? = withTLSStrings { key, cert, trust, priorities in
            var options = zme_mhd_options()
            options.port = settings.listenAddress.port
            // Clamped: out-of-range settings are refused where they are parsed, and must not trap here.
            options.connection_limit = UInt32(clamping: max(1, settings.maxConnections))
            options.per_ip_connection_limit = UInt32(clamping: max(0, settings.maxConnectionsPerClient))
            options.connection_timeout_seconds = UInt32(clamping: max(1, settings.idleTimeout))
            options.thread_pool_size = UInt32(clamping: max(0, settings.threads))
            options.https_key_pem = key
            options.https_cert_pem = cert
            options.https_trust_pem = trust
            options.https_priorities = priorities
            let contextPointer = Unmanaged.passUnretained(context).toOpaque()
            options.on_connection_event = connectionEvent
            options.on_connection_event_context = contextPointer
            options.on_request_line = requestLineArrived
            options.on_request_line_context = contextPointer
            switch settings.listenAddress.host {
            case .any:
                options.flags = flags | UInt32(MHD_USE_DUAL_STACK.rawValue)
                return start(options)
            case .ipv4(let address):
                ipv4.sin_family = sa_family_t(AF_INET)
                ipv4.sin_port = settings.listenAddress.port.bigEndian
                inet_pton(AF_INET, address, &ipv4.sin_addr)
                options.flags = flags
                return withUnsafePointer(to: &ipv4) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        options.bind_address = $0
                        return start(options)
                    }
                }
            case .ipv6(let address):
                ipv6.sin6_family = sa_family_t(AF_INET6)
                ipv6.sin6_port = settings.listenAddress.port.bigEndian
                inet_pton(AF_INET6, address, &ipv6.sin6_addr)
                options.flags = flags | UInt32(MHD_USE_IPv6.rawValue)
                return withUnsafePointer(to: &ipv6) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        options.bind_address = $0
                        return start(options)
                    }
                }
            }
        }
        guard let started else {
            let failure = errno
            if failure == EADDRINUSE {
                throw ServerError(
                    "cannot listen on \(settings.listenAddress): address already in use (is another process using the port?)"
                )
            }
            let reason = failure == 0 ? "libmicrohttpd refused to start" : String(cString: strerror(failure))
            throw ServerError("cannot listen on \(settings.listenAddress): \(reason)")
        }
        daemon.withLock { $0 = DaemonHandle(pointer: started) }
        context.deadline.start()
    }

    private func start(_ options: zme_mhd_options) -> OpaquePointer? {
        var options = options
        let contextPointer = Unmanaged.passUnretained(context).toOpaque()
        return zme_mhd_start(&options, accessHandler, contextPointer, requestCompleted, contextPointer)
    }

    private func withTLSStrings<T>(
        _ body: (UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> T
    ) -> T {
        guard let tls = settings.tls else { return body(nil, nil, nil, nil) }
        return tls.keyPEM.withCString { key in
            tls.certificatePEM.withCString { cert in
                withOptionalCString(tls.clientCAPEM) { trust in
                    withOptionalCString(tls.priorities) { priorities in body(key, cert, trust, priorities) }
                }
            }
        }
    }

    /// TCP connections accepted since start (keep-alive connections count once).
    public var connectionsOpened: Int { context.deadline.opened.load(ordering: .relaxed) }

    /// Stops accepting, finishes the requests in progress, and returns.
    public func stop() {
        let running = daemon.withLock { daemon in
            defer { daemon = nil }
            return daemon
        }
        if let running { MHD_stop_daemon(running.pointer) }
        context.deadline.stop()
    }

    deinit { stop() }
}

/// The running daemon. libmicrohttpd's functions on it are thread-safe; the Mutex makes stop run once.
private struct DaemonHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

private func withOptionalCString<T>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> T) -> T {
    guard let text else { return body(nil) }
    return text.withCString { body($0) }
}

/// What the C callbacks reach through their context pointer.
final class ServerContext: Sendable {
    let handler: any HTTPHandler
    let maxBodyBytes: Int
    let clientAuth: WebConfig.ClientAuth
    let deadline: ReadDeadline

    init(handler: any HTTPHandler, maxBodyBytes: Int, clientAuth: WebConfig.ClientAuth, deadline: ReadDeadline) {
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
        self.clientAuth = clientAuth
        self.deadline = deadline
    }

    /// Whether the connection's client certificate satisfies `clientAuth` (checked once per request,
    /// before its body is read).
    func admitsClient(of connection: OpaquePointer) -> Bool {
        if clientAuth == .noClientCert { return true }
        let certificate: WebConfig.ClientAuth.Certificate =
            switch zme_mhd_client_certificate(connection) {
            case ZME_CLIENT_CERTIFICATE_VERIFIED: .verified
            case ZME_CLIENT_CERTIFICATE_UNVERIFIED: .unverified
            default: .none
            }
        return clientAuth.admits(certificate)
    }
}

/// One request as it arrives: its admitted head, then its body in pieces, up to the limit `admit` gave.
/// Freed when libmicrohttpd reports the request completed.
final class RequestState {
    var head: HTTPRequest?
    var body: [UInt8] = []
    var limit = 0
    var overflowed = false
    /// A response is queued; nothing more is kept or answered.
    var answered = false
}
