/// OAuth client credentials. Never printed: `description` hides them, so interpolating one into a log
/// line or an error message cannot leak the secret.
public struct ZuoraCredentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let clientId: String
    public let clientSecret: String

    public init(clientId: String, clientSecret: String) {
        self.clientId = clientId
        self.clientSecret = clientSecret
    }

    public var description: String { "ZuoraCredentials(<redacted>)" }
    public var debugDescription: String { description }
}
