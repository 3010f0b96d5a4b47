/// A hash that stays the same across runs and machines (Swift's `Hasher` is seeded per process):
/// FNV-1a over UTF-8 bytes. Orders polls within a cycle, assigns shards, and stands for operator ids a
/// running snapshot sums into "other".
public enum StableHash {
    public static func of(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }

    /// Over `meterId/version`.
    public static func of(_ key: MeterKey) -> UInt64 { of("\(key.meterId)/\(key.version)") }
}
