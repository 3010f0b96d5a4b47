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
