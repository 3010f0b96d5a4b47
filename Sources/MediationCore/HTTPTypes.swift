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

/// What a handler decides from a request's head (method, path, query, headers), before its body is read.
public enum Admission: Sendable {
    /// Read the body, up to this many bytes (a larger one is answered 413 without being buffered), then
    /// call `handle`.
    case proceed(maxBodyBytes: Int)
    /// Answer this now; the body is discarded unread (authentication failures, wrong methods).
    case refuse(HTTPResponse)
}

/// Anything that answers requests. Called on the server's threads: it must be quick and thread-safe.
///
/// A transport calls `admit` with the head of the request (its `body` empty) as soon as the headers are
/// in, and `handle` with the whole request only when `admit` said `proceed` and the body fit: nothing is
/// buffered for a request that will be refused.
public protocol HTTPHandler: Sendable {
    func admit(_ head: HTTPRequest) -> Admission
    func handle(_ request: HTTPRequest) -> HTTPResponse
}

extension HTTPHandler {
    /// Routes that take no body: a few KiB is plenty for what a client may send anyway.
    public func admit(_ head: HTTPRequest) -> Admission { .proceed(maxBodyBytes: HTTPRequest.smallBodyBytes) }

    /// `admit`, then `handle` when admitted and the body fits: what a transport does, for callers that
    /// hold the whole request already (tests, fuzz targets).
    public func respond(to request: HTTPRequest) -> HTTPResponse {
        var head = request
        head.body = []
        switch admit(head) {
        case .refuse(let response): return response
        case .proceed(let limit):
            guard request.body.count <= limit else { return HTTPResponse.bodyTooLarge(limit: limit) }
            return handle(request)
        }
    }
}

extension HTTPRequest {
    /// The body limit of routes that expect none.
    public static let smallBodyBytes = 4096
}

extension HTTPResponse {
    /// The answer to a body over `limit` bytes.
    public static func bodyTooLarge(limit: Int) -> HTTPResponse {
        .json(413, #"{"error":"request body over \#(limit) bytes"}"#)
    }
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
