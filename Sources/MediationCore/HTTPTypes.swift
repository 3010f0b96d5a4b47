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

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    /// The body in parts, sent one after the other: a large cached part is shared, not copied.
    public var bodyParts: [[UInt8]]
    /// A body written while it is sent; when set, it is the whole body and `bodyParts` is unused.
    public var source: (any BodySource)?
    /// Fault injection (the simulator): how the transport breaks this answer off; nil sends it whole.
    public var breakoff: Breakoff?

    /// A broken answer, as a dropped or reset connection gives the client.
    public enum Breakoff: Sendable, Equatable {
        /// Close the connection without sending anything (curl: "Empty reply from server").
        case closeWithoutAnswer
        /// Send the status line, the headers (with the whole body's Content-Length) and this many bytes of
        /// the body, then close the connection (curl: "transfer closed with … bytes remaining to read").
        case truncateBody(after: Int)
    }

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

/// Anything that answers requests. Called on the server's threads: it must be quick and thread-safe.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) -> HTTPResponse
}

/// Escaping for text placed in HTML and JSON.
public enum TextEscaping {
    public static func html(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    public static func json(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out +=
                    "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
