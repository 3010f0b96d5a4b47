/// One meter-version as the configuration lists it.
public struct MeterSpec: Hashable, Sendable {
    public let key: MeterKey
    public let name: String?

    public init(key: MeterKey, name: String?) {
        self.key = key
        self.name = name
    }
}
