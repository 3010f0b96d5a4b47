import Synchronization

/// Sends one HTTP POST of a callout; the executable's is libcurl's (`CurlTransport`), tests use fakes.
public protocol CalloutSender: Sendable {
    func send(_ request: CalloutRequest) async -> CalloutResult
}

public struct CalloutRequest: Sendable, Equatable {
    public var url: String
    /// Name and value pairs, in sending order.
    public var headers: [Header]
    public var body: [UInt8]
    public var timeout: Double

    public struct Header: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// What came back: an answer (with its `WWW-Authenticate` header, if any), or none in time or at all.
public enum CalloutResult: Sendable, Equatable {
    case answered(status: Int, wwwAuthenticate: String?)
    case timedOut
    /// Refused, reset, name not resolved, TLS failure: nothing usable came back.
    case failed(String)
}

/// The callout counters the control API's stats show.
public final class CalloutCounters: Sendable {
    public struct Snapshot: Sendable, Equatable {
        /// Notifications delivered (answered 2xx).
        public var sent = 0
        /// HTTP requests sent, challenge round trips included.
        public var attempts = 0
        /// Notifications given up: a final answer that is not retried, or every attempt used.
        public var failed = 0
        /// Notifications pushed out of the full queue (the receiver was down for long).
        public var dropped = 0
    }

    private let counts = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { counts.withLock { $0 } }

    func update(_ change: (inout Snapshot) -> Void) { counts.withLock { change(&$0) } }
}
