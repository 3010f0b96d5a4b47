/// Puts Basic authentication (web config `basic_auth_users`) in front of every route. The decision is
/// made from the request's head, before its body is read, so a refused request costs no buffering.
public struct BasicAuthGate: HTTPHandler {
    private let users: [String: String]
    private let hashes: PasswordHash
    private let inner: any HTTPHandler
    /// What an unknown user's password is checked against: a configured hash, so that an unknown user
    /// costs the same bcrypt as a known one and response times do not tell which users exist.
    private let decoyHash: String?

    public init(users: [String: String], hashes: PasswordHash = PasswordHash(), inner: any HTTPHandler) {
        self.users = users
        self.hashes = hashes
        self.inner = inner
        self.decoyHash = users.values.min()
    }

    public func admit(_ head: HTTPRequest) -> Admission {
        if let refusal = refusal(head) { return .refuse(refusal) }
        return inner.admit(head)
    }

    /// Checks again (a cached success costs microseconds): a transport that skipped `admit` must not
    /// open the routes.
    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        refusal(request) ?? inner.handle(request)
    }

    private func refusal(_ request: HTTPRequest) -> HTTPResponse? {
        guard !users.isEmpty, let decoyHash else { return nil }
        guard let given = Signatures.basicCredentials(request.header("Authorization")) else { return Self.challenge }
        // A NUL would end the password early inside crypt(3): "secret\0anything" would pass for "secret".
        guard !given.user.contains(0), !given.password.contains(0) else { return Self.challenge }
        let known = String(validating: given.user, as: UTF8.self).flatMap { users[$0] }
        switch hashes.verify(user: given.user, password: given.password, hash: known ?? decoyHash) {
        case .match where known != nil: return nil
        case .match, .mismatch: return Self.challenge
        case .busy:
            var response = HTTPResponse.text(429, "Too many password checks in progress; try again.\n")
            response.headers.append(("Retry-After", "1"))
            return response
        }
    }

    private static let challenge: HTTPResponse = {
        var response = HTTPResponse.text(401, "Unauthorized.\n")
        response.headers.append(("WWW-Authenticate", #"Basic realm="zuora-mediation-exporter""#))
        return response
    }()
}
