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
    /// Seconds a connection may stay idle (slowloris protection).
    public var idleTimeout: Int = 30
    /// Size of the thread pool; 0 gives each connection its own thread instead, so that a handler that
    /// blocks (the simulator's injected delays) holds up only its own connection, not every connection
    /// that shares its pool thread.
    public var threads: Int = 4
    /// Request bodies over this size are answered 413.
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
    private let opened = ConnectionCounter()

    public init(settings: HTTPServerSettings, handler: any HTTPHandler) {
        self.settings = settings
        self.context = ServerContext(
            handler: handler,
            maxBodyBytes: settings.maxBodyBytes,
            clientAuth: settings.tls?.clientAuth ?? .noClientCert
        )
    }

    public func start() throws(ServerError) {
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
            options.connection_limit = UInt32(settings.maxConnections)
            options.connection_timeout_seconds = UInt32(settings.idleTimeout)
            options.thread_pool_size = UInt32(settings.threads)
            options.https_key_pem = key
            options.https_cert_pem = cert
            options.https_trust_pem = trust
            options.https_priorities = priorities
            options.on_connection_opened = { context in
                guard let context else { return }
                Unmanaged<ConnectionCounter>.fromOpaque(context).takeUnretainedValue().count.add(1, ordering: .relaxed)
            }
            options.on_connection_opened_context = Unmanaged.passUnretained(opened).toOpaque()
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
            throw ServerError(
                "cannot listen on \(settings.listenAddress): \(String(cString: strerror(errno))) (is another process using the port?)"
            )
        }
        daemon.withLock { $0 = DaemonHandle(pointer: started) }
    }

    private func start(_ options: zme_mhd_options) -> OpaquePointer? {
        var options = options
        let contextPointer = Unmanaged.passUnretained(context).toOpaque()
        return zme_mhd_start(&options, accessHandler, contextPointer, requestCompleted, nil)
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
    public var connectionsOpened: Int { opened.count.load(ordering: .relaxed) }

    /// Stops accepting, finishes the requests in progress, and returns.
    public func stop() {
        let running = daemon.withLock { daemon in
            defer { daemon = nil }
            return daemon
        }
        if let running { MHD_stop_daemon(running.pointer) }
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

final class ConnectionCounter: Sendable {
    let count = Atomic<Int>(0)
}

/// What the C callbacks reach through their context pointer.
final class ServerContext: Sendable {
    let handler: any HTTPHandler
    let maxBodyBytes: Int
    let clientAuth: WebConfig.ClientAuth

    init(handler: any HTTPHandler, maxBodyBytes: Int, clientAuth: WebConfig.ClientAuth) {
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
        self.clientAuth = clientAuth
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

/// One request's body as it arrives in pieces; freed when libmicrohttpd reports the request completed.
final class RequestBody {
    var bytes: [UInt8] = []
    var overflowed = false
}
