import Yams

/// Checks on configuration text that the YAML parser leaves to us.
public enum ConfigText {
    /// Editors on Windows save UTF-8 with a byte order mark; YAML allows one at the start.
    public static func droppingByteOrderMark(_ text: String) -> String {
        text.hasPrefix("\u{FEFF}") ? String(text.unicodeScalars.dropFirst()) : text
    }

    /// Nil when `value` can be sent as an HTTP header value, else what is wrong with it.
    public static func headerValueProblem(_ value: String) -> String? {
        if value.utf8.count > 1024 { return "must be at most 1024 bytes, got \(value.utf8.count)" }
        if let bad = value.unicodeScalars.first(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7f }) {
            return "must not contain control characters (it is sent as an HTTP header); remove "
                + bad.escaped(asASCII: true)
        }
        return nil
    }
}

/// Rules for `Zuora-Track-Id` from the API reference.
public enum TrackId {
    /// Nil when `value` is acceptable, else what is wrong with it.
    public static func problem(_ value: String) -> String? {
        if value.utf8.count > 64 { return "must be at most 64 characters (Zuora's limit), got \(value.utf8.count)" }
        if let bad = value.unicodeScalars.first(where: { !$0.isASCII || $0.value < 0x20 || $0.value == 0x7f }) {
            return "must be printable US-ASCII; remove \(bad.escaped(asASCII: true))"
        }
        if let bad = value.first(where: { ":;\"'".contains($0) }) {
            return "must not contain \(bad) (Zuora forbids : ; \" and ')"
        }
        return nil
    }
}
