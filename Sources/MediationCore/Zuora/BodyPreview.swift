/// The first bytes of an answer from outside, for a log line that says why it could not be used: at most
/// `limit` bytes, control characters and backslashes escaped (`\n`, `\u{1B}`), so that the line can be
/// neither flooded nor split. Only ever given response bodies, never request headers or tokens.
public enum BodyPreview {
    public static func of(_ body: [UInt8], limit: Int = 200) -> String {
        var out = ""
        for scalar in String(decoding: body.prefix(limit), as: UTF8.self).unicodeScalars {
            switch scalar.value {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x5C: out += "\\\\"
            case 0..<0x20, 0x7F..<0xA0, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069:
                out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return body.count > limit ? out + "…" : out
    }
}
