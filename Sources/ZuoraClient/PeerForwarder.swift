public import MediationCore
import Synchronization

/// Forwards callouts to the replica that owns their meter-version (`--shard.peer-url-template`). Here
/// because libcurl is wrapped in this target already (timeouts, protocol restriction, header checks); the
/// HTTP server's own threads call it and block for at most `timeout`, never the Swift concurrency pool.
public final class PeerForwarder: CalloutForwarding {
    private let template: String
    private let timeout: Double
    private let maxInFlight: Int
    private let userAgent: String
    private let tls: TLSSettings
    /// Easy handles between forwards: each keeps its connection to a peer alive.
    private let idle = Mutex<[CurlHandle]>([])
    private let inFlight = Mutex(0)

    /// Forwards running right now.
    public var forwardsInFlight: Int { inFlight.withLock { $0 } }

    /// Peer answers are one-line JSON; anything larger is not an answer worth relaying.
    static let maxAnswerBytes = 64 * 1024
    public static let placeholder = "{shard}"

    /// `template` is validated already (`FlagValue.urlTemplate`). At most `maxInFlight` forwards run at once
    /// (the rest are answered unreachable at once), so that a dead peer cannot hold every server thread.
    public init(
        template: String,
        userAgent: String,
        timeout: Double = 5,
        maxInFlight: Int = 4,
        tls: TLSSettings = .init()
    ) {
        _ = CurlTransport.globalInit
        self.template = template
        self.userAgent = userAgent
        self.timeout = timeout
        self.maxInFlight = max(1, maxInFlight)
        self.tls = tls
    }

    /// The peer URL for `shard`, without a trailing slash (the callout path follows).
    public func baseURL(forShard shard: Int) -> String {
        var url = template.replacing(Self.placeholder, with: String(shard))
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }

    public func forward(_ request: HTTPRequest, toShard shard: Int) -> ForwardOutcome {
        let admitted = inFlight.withLock { count in
            guard count < maxInFlight else { return false }
            count += 1
            return true
        }
        guard admitted else { return .unreachable(reason: "\(maxInFlight) forwards in flight already") }
        defer { inFlight.withLock { $0 -= 1 } }

        // "Expect:" keeps libcurl from waiting for a 100 Continue on larger bodies.
        let headers = request.headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" } + ["Expect:"]
        var outgoing = CurlRequest(
            method: "POST",
            url: baseURL(forShard: shard) + request.path,
            headers: headers,
            body: request.body,
            timeout: timeout
        )
        outgoing.maxBodyBytes = Self.maxAnswerBytes
        if let refusal = outgoing.refusal { return .unreachable(reason: refusal) }
        let handle = idle.withLock { $0.popLast() } ?? CurlHandle()
        defer { idle.withLock { $0.append(handle) } }
        switch handle.perform(CurlJob(request: outgoing), tls: tls, userAgent: userAgent, capture: ["content-type"]) {
        case .success(let answer):
            return .answered(status: answer.status, body: answer.body, contentType: answer.headers["content-type"])
        case .failure(let failure):
            return .unreachable(reason: failure.detail)
        }
    }
}
