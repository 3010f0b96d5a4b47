/// A response the control API asked for in place of the real one.
public struct InjectedFault: Error, Sendable, Equatable {
    public var status: Int
    public var body: String
    public var remaining: Int?
    public var retryAfter: Int?
    /// Seconds to wait before answering (a slow or hung Zuora).
    public var delay: Double
    /// The share of requests (0–1) that get this fault; the others are answered normally.
    public var probability: Double = 1
    /// A connection closed without an answer, or an answer cut short; nil answers whole.
    public var breakoff: SimulatedBreakoff?

    public init(status: Int, body: String, remaining: Int?, retryAfter: Int?, delay: Double) {
        self.status = status
        self.body = body
        self.remaining = remaining
        self.retryAfter = retryAfter
        self.delay = delay
    }
}

/// How an injected fault breaks the connection off instead of answering whole.
public enum SimulatedBreakoff: Sendable, Equatable {
    /// Close the connection without sending anything.
    case closeWithoutAnswer
    /// Send the status, the headers (with the whole body's Content-Length) and this many bytes of the body.
    case truncateBody(after: Int)
}
