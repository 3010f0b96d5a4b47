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

    public init(key: MeterKey, result: Result, at: Double) {
        self.key = key
        self.result = result
        self.at = at
    }
}
