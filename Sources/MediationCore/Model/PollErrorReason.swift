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
