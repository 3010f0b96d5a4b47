/// Puts Basic authentication (web config `basic_auth_users`) in front of every route.
public struct BasicAuthGate: HTTPHandler {
    private let users: [String: String]
    private let hashes: PasswordHash
    private let inner: any HTTPHandler

    public init(users: [String: String], hashes: PasswordHash = PasswordHash(), inner: any HTTPHandler) {
        self.users = users
        self.hashes = hashes
        self.inner = inner
    }

    public func handle(_ request: HTTPRequest) -> HTTPResponse {
        guard !users.isEmpty else { return inner.handle(request) }
        if let given = Signatures.basicCredentials(request.header("Authorization")),
            let user = String(validating: given.user, as: UTF8.self),
            let password = String(validating: given.password, as: UTF8.self),
            let hash = users[user],
            hashes.verify(user: user, password: password, hash: hash)
        {
            return inner.handle(request)
        }
        var response = HTTPResponse.text(401, "Unauthorized.\n")
        response.headers.append(("WWW-Authenticate", #"Basic realm="zuora-mediation-exporter""#))
        return response
    }
}
