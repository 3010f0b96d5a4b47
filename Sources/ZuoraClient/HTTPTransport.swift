/// Sends one HTTP request. `CurlTransport` is the real one; tests inject fakes.
public protocol HTTPTransport: Sendable {
    /// The answer, or why there is none. Returns promptly when the calling task is cancelled, with a
    /// `.cancelled` failure (a request not yet started is then never sent).
    func perform(_ request: CurlRequest) async -> Result<CurlResponse, CurlFailure>
}

/// One HTTP request.
public struct CurlRequest: Sendable, Equatable {
    public var method: String
    public var url: String
    public var headers: [String]
    public var body: [UInt8]?
    public var timeout: Double
    /// A larger answer is abandoned: a runaway body must not grow memory.
    public var maxBodyBytes: Int = 1 << 20

    public init(method: String, url: String, headers: [String], body: [UInt8]? = nil, timeout: Double) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }

    /// Why the request must not be sent: a CR, LF or NUL in a header line or the URL would let a value
    /// smuggle in headers of its own (defence in depth: configuration and tokens are checked earlier).
    public var refusal: String? {
        func unsafe(_ text: String) -> Bool { text.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 } }
        if unsafe(url) { return "refused to send a request whose URL contains CR, LF or NUL" }
        if headers.contains(where: unsafe) { return "refused to send a request header containing CR, LF or NUL" }
        return nil
    }
}

public struct CurlResponse: Sendable, Equatable {
    public var status: Int
    public var body: [UInt8]
    /// The captured response headers, by lower-case name.
    public var headers: [String: String]
    public var seconds: Double

    public init(status: Int, body: [UInt8], headers: [String: String] = [:], seconds: Double = 0) {
        self.status = status
        self.body = body
        self.headers = headers
        self.seconds = seconds
    }
}

/// A request that got no usable answer, with the time it took (failed requests count in the latency
/// histogram too).
public struct CurlFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The whole request took longer than its timeout.
        case timeout
        /// Zuora could not be reached at all: name not resolved, connection refused, TLS handshake or
        /// certificate refused. Every request would fail alike.
        case unreachable
        /// Anything else on the way: a connection reset, an answer cut short.
        case network
        case bodyTooLarge
        case badEncoding
        /// Not sent, or aborted, because the task was cancelled.
        case cancelled
        /// Not sent: see `CurlRequest.refusal`.
        case refused
    }

    public var kind: Kind
    public var detail: String
    public var seconds: Double

    public init(_ kind: Kind, _ detail: String, seconds: Double = 0) {
        self.kind = kind
        self.detail = detail
        self.seconds = seconds
    }

    public var description: String { detail }
}
