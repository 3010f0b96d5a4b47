public import MediationCore

/// A broken answer, as a dropped or reset connection gives the client: the transport's fault injection,
/// for the simulator (a production handler never asks for one).
public enum Breakoff: Sendable, Equatable {
    /// Close the connection without sending anything (curl: "Empty reply from server").
    case closeWithoutAnswer
    /// Send the status line, the headers (with the whole body's Content-Length) and this many bytes of the
    /// body, then close the connection (curl: "transfer closed with … bytes remaining to read").
    case truncateBody(after: Int)
}

/// A handler that may ask the transport to break its answer off (the simulator's injected faults).
public protocol BreakingHTTPHandler: HTTPHandler {
    func handleBreaking(_ request: HTTPRequest) -> (HTTPResponse, Breakoff?)
}

extension BreakingHTTPHandler {
    public func handle(_ request: HTTPRequest) -> HTTPResponse { handleBreaking(request).0 }
}
