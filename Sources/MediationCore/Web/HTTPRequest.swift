/// The transport-independent request and response that handlers see, so that they can be tested
/// without sockets. The HTTP server adapter turns libmicrohttpd's callbacks into these.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The path without the query string, still percent-encoded (decode segments where needed).
    public var path: String
    /// Query arguments, decoded.
    public var query: [String: String]
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(
        method: String,
        path: String,
        query: [String: String] = [:],
        headers: [String: String] = [:],
        body: [UInt8] = []
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

extension HTTPRequest {
    /// The body limit of routes that expect none.
    public static let smallBodyBytes = 4096
}
