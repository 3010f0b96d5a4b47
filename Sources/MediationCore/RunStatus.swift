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

    /// The status with this documented name (as callouts carry it), or nil for a name nobody documented.
    public init?(name: String) {
        guard let index = Self.knownNames.firstIndex(of: name) else { return nil }
        self.code = index + 1
    }

    public var description: String { "\(code) (\(name))" }
}

/// One configured (or callout-discovered) meter-version: what every per-meter series is labelled by.
public struct MeterKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let meterId: Int64
    public let version: String

    public init(meterId: Int64, version: String) {
        self.meterId = meterId
        self.version = version
    }

    public static func < (lhs: MeterKey, rhs: MeterKey) -> Bool {
        (lhs.meterId, lhs.version) < (rhs.meterId, rhs.version)
    }

    public var description: String { "meter \(meterId) version \(version)" }
}

/// Why a poll failed: the `reason` label of `zuora_meter_poll_errors_total`.
public enum PollErrorReason: String, CaseIterable, Sendable, Hashable {
    case auth
    case notFound = "not_found"
    case badRequest = "bad_request"
    case rateLimited = "rate_limited"
    case serverError = "server_error"
    case timeout
    case network
    case decode

    /// The reason for an HTTP status that is not a success.
    public static func forHTTPStatus(_ status: Int) -> PollErrorReason {
        switch status {
        case 401, 403: .auth
        case 404: .notFound
        case 429: .rateLimited
        case 408, 504: .timeout
        case 500...599: .serverError
        default: .badRequest
        }
    }
}
