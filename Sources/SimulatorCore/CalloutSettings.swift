public import MediationCore

/// How the simulator sends callouts, as a Zuora callout template and Zuora's callout settings describe them.
public struct CalloutSettings: Sendable, Equatable {
    public var statusURL: String?
    public var periodicURL: String?
    public var username: String?
    public var password: String?
    /// Send the credentials at once instead of waiting for the receiver's 401 challenge.
    public var preemptive = false
    public var hmacSecret: String?
    public var hmacHeader = "X-Zuora-Signature"
    public var hmacEncoding = SignatureEncoding.hex
    public var periodicInterval: Double = 1800
    public var retryDelay: Double = 1800
    /// Tries per notification, the first included (Zuora: 3 by default, at most 5).
    public var attempts = 3
    /// Zuora gives the receiver 25 s (10 s to connect, 15 s to answer).
    public var timeout: Double = 25
    /// Notifications waiting to be sent (or sent again); beyond it the oldest is dropped and counted.
    public var queueCapacity = 10_000

    public init() {}

    public var sendsAny: Bool { statusURL != nil || periodicURL != nil }

    /// The settings from the command line's texts, or the first problem as `--flag: what is wrong`.
    public static func parse(_ flags: Flags) -> Result<CalloutSettings, CalloutFlagError> {
        var settings = CalloutSettings()
        for (name, value, path) in [
            ("--callout.status-url", flags.statusURL, \CalloutSettings.statusURL),
            ("--callout.periodic-url", flags.periodicURL, \CalloutSettings.periodicURL),
        ] {
            guard let value else { continue }
            let lower = value.lowercased()
            guard lower.hasPrefix("http://") || lower.hasPrefix("https://"), value.utf8.count > 8,
                value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
            else {
                return .failure(CalloutFlagError("\(name): \(Excerpt.of(value)) is not an http:// or https:// URL"))
            }
            settings[keyPath: path] = value
        }
        if let username = flags.username {
            guard !username.contains(":"), username.utf8.allSatisfy({ $0 >= 0x20 && $0 != 0x7F }) else {
                return .failure(CalloutFlagError("--callout.username: must not contain ':' or control characters"))
            }
        }
        guard (flags.username == nil) == (flags.password == nil) else {
            return .failure(CalloutFlagError("--callout.username and --callout.password go together"))
        }
        settings.username = flags.username
        settings.password = flags.password
        settings.preemptive = flags.preemptive
        if let secret = flags.hmacSecret {
            guard !secret.isEmpty else { return .failure(CalloutFlagError("--callout.hmac-secret: must not be empty")) }
            settings.hmacSecret = secret
        }
        if let header = flags.hmacHeader {
            // An HTTP token: no separators, spaces or control characters.
            let allowed = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
            guard !header.isEmpty, header.utf8.count <= 64, header.utf8.allSatisfy(allowed.contains) else {
                return .failure(CalloutFlagError("--callout.hmac-header: \(Excerpt.of(header)) is not a header name"))
            }
            settings.hmacHeader = header
        }
        if let encoding = flags.hmacEncoding {
            guard let value = SignatureEncoding(rawValue: encoding) else {
                return .failure(
                    CalloutFlagError("--callout.hmac-encoding: \(Excerpt.of(encoding)) is neither hex nor base64")
                )
            }
            settings.hmacEncoding = value
        }
        for (name, text, path) in [
            ("--callout.periodic-interval", flags.periodicInterval, \CalloutSettings.periodicInterval),
            ("--callout.retry-delay", flags.retryDelay, \CalloutSettings.retryDelay),
            ("--callout.timeout", flags.timeout, \CalloutSettings.timeout),
        ] {
            guard let text else { continue }
            guard let seconds = DurationText.seconds(text), seconds.isFinite, seconds >= 0.001,
                seconds <= DurationText.maximum
            else {
                return .failure(
                    CalloutFlagError("\(name): \(Excerpt.of(text)) is not a duration such as 500ms, 2s or 30m")
                )
            }
            settings[keyPath: path] = seconds
        }
        if let attempts = flags.attempts {
            guard let count = Int(attempts), (1...5).contains(count) else {
                return .failure(
                    CalloutFlagError("--callout.attempts: \(Excerpt.of(attempts)) is not a number from 1 to 5")
                )
            }
            settings.attempts = count
        }
        return .success(settings)
    }

    /// The flags as given (nil when absent), before any check.
    public struct Flags: Sendable {
        public var statusURL: String?
        public var periodicURL: String?
        public var username: String?
        public var password: String?
        public var preemptive = false
        public var hmacSecret: String?
        public var hmacHeader: String?
        public var hmacEncoding: String?
        public var periodicInterval: String?
        public var retryDelay: String?
        public var attempts: String?
        public var timeout: String?

        public init() {}
    }
}

public struct CalloutFlagError: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
