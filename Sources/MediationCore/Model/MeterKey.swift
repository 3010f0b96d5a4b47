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
