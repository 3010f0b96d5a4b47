/// A meter-version observed entering an ended state (COMPLETED, FAILED, CANCELED, TESTING_PASSED,
/// TESTING_FAILED): what its summary request is made of.
public struct EndedRun: Sendable, Equatable {
    public let key: MeterKey
    /// The ended status's name.
    public let status: String
    /// The session, when a callout named it; else the summary asks for the observed window.
    public var sessionId: String?
    /// Wall-clock seconds: when the exporter saw the run start (its first active status after rest), or
    /// else the last time it saw the at-rest status before it.
    public let windowStart: Double
    /// Wall-clock seconds: when the end was observed.
    public let windowEnd: Double

    public init(key: MeterKey, status: String, sessionId: String?, windowStart: Double, windowEnd: Double) {
        self.key = key
        self.status = status
        self.sessionId = sessionId
        self.windowStart = windowStart
        self.windowEnd = windowEnd
    }
}
