import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The start of a text from outside, for messages and logs: at most `limit` characters, control
/// characters as spaces, so that a hostile value can neither flood a log line nor forge another.
public enum Excerpt {
    public static func of(_ text: String, limit: Int = 64) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            guard count < limit else { return out + "…" }
            out.unicodeScalars.append(scalar.value < 0x20 || scalar.value == 0x7f ? " " : scalar)
            count += 1
        }
        return out
    }
}
