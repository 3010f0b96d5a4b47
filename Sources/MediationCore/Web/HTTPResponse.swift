public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    /// The body in parts, sent one after the other: a large cached part is shared, not copied.
    public var bodyParts: [[UInt8]]
    /// A body written while it is sent; when set, it is the whole body and `bodyParts` is unused.
    public var source: (any BodySource)?
    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.bodyParts = [body]
    }

    public init(status: Int, headers: [(String, String)], bodyParts: [[UInt8]]) {
        self.status = status
        self.headers = headers
        self.bodyParts = bodyParts
    }

    /// The whole body (joined when it has several parts, read out when it has a source).
    public var body: [UInt8] {
        get {
            if let source { return source.readAll() }
            return bodyParts.count == 1 ? bodyParts[0] : Array(bodyParts.joined())
        }
        set { bodyParts = [newValue] }
    }

    public var bodyCount: Int { source?.count ?? bodyParts.reduce(0) { $0 + $1.count } }

    public init(status: Int, headers: [(String, String)], source: any BodySource) {
        self.init(status: status, headers: headers)
        self.source = source
    }

    public static func text(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: Array(text.utf8))
    }

    public static func json(_ status: Int, _ json: String, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(json.utf8))
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

extension HTTPResponse {
    /// The answer to a body over `limit` bytes.
    public static func bodyTooLarge(limit: Int) -> HTTPResponse {
        .json(413, #"{"error":"request body over \#(limit) bytes"}"#)
    }
}
