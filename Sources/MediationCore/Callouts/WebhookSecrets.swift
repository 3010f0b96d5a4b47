import Synchronization

/// Secrets of the callout receiver, read from their files at start-up.
public struct WebhookSecrets: Sendable {
    public var basicPassword: [UInt8]?
    public var hmacKey: [UInt8]?

    public init(basicPassword: [UInt8]?, hmacKey: [UInt8]?) {
        self.basicPassword = basicPassword
        self.hmacKey = hmacKey
    }
}
