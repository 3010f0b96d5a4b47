/// A run-status code as Zuora returns it. Codes 1–13 are documented; Zuora may add codes at any time
/// (it counts new response values as a backward-compatible change), so any integer is a valid status.
public struct RunStatus: Hashable, Sendable, CustomStringConvertible {
    public let code: Int

    public init(code: Int) { self.code = code }

    /// Documented names in code order (index + 1 is the code), as in the API reference.
    public static let knownNames: [String] = [
        "NEVER_RUN", "TESTING", "TESTING_FAILED", "TESTING_PASSED", "RUNNING", "PAUSED", "COMPLETED",
        "FAILED", "CANCELED", "INITIALIZING", "USAGE_PUSHING", "PUSH_COMPLETED", "CONSUME_COMPLETED",
    ]
    /// The state-set label for every code that has no documented name.
    public static let unknownName = "UNKNOWN"

    /// The name used in `state`, `from` and `to` labels: the documented name, or `UNKNOWN`.
    public var name: String {
        (1...Self.knownNames.count).contains(code) ? Self.knownNames[code - 1] : Self.unknownName
    }

    public var isKnown: Bool { name != Self.unknownName }

    /// Entering one of these counts a run failure.
    public var isFailure: Bool { name == "FAILED" || name == "TESTING_FAILED" }

    /// A meter at rest changes only when someone starts a run; unknown codes count as active so that a
    /// status nobody documented is watched closely rather than ignored.
    public var isAtRest: Bool {
        ["NEVER_RUN", "COMPLETED", "FAILED", "CANCELED", "CONSUME_COMPLETED", "TESTING_PASSED", "TESTING_FAILED"]
            .contains(name)
    }

    /// A session ended in this status: entering it asks for the session's summary.
    public var isEnded: Bool {
        ["COMPLETED", "FAILED", "CANCELED", "TESTING_PASSED", "TESTING_FAILED"].contains(name)
    }

    /// The status with this documented name (as callouts carry it), or nil for a name nobody documented.
    public init?(name: String) {
        guard let index = Self.knownNames.firstIndex(of: name) else { return nil }
        self.code = index + 1
    }

    public var description: String { "\(code) (\(name))" }
}
