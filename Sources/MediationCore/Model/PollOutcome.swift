/// What one poll of `runStatus` found.
public struct PollOutcome: Sendable, Equatable {
    public enum Result: Sendable, Equatable {
        case status(RunStatus)
        case failure(PollErrorReason, message: String)
    }

    public let key: MeterKey
    public let result: Result
    /// When the answer arrived (seconds since the epoch).
    public let at: Double
    /// When the request was sent (monotonic seconds, the `StatusHub`'s clock); nil when unknown. A status
    /// callout applied after that moment is newer than the answer, which then cannot change the status.
    public let sentAt: Double?

    public init(key: MeterKey, result: Result, at: Double, sentAt: Double? = nil) {
        self.key = key
        self.result = result
        self.at = at
        self.sentAt = sentAt
    }
}
