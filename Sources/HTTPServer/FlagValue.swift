import MediationCore

/// Numeric command-line values, parsed so that anything out of range is refused with a message that names the
/// flag and what it accepts: converting such values unchecked traps (UInt32 of 2^32) or wraps.
public enum FlagValue {
    /// A whole number in `range` (ASCII digits only: no sign, no spaces, nothing else).
    public static func integer(_ text: String, flag: String, in range: ClosedRange<Int>) throws(ServerError) -> Int {
        let accepted = "accepted: \(range.lowerBound) to \(range.upperBound)"
        var value = 0
        var overflowed = false
        for byte in text.utf8 {
            guard byte >= 48, byte <= 57 else {
                throw ServerError("\(flag): \(quoted(text)) is not a whole number; \(accepted)")
            }
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflowAgain) = times.addingReportingOverflow(Int(byte - 48))
            overflowed = overflowed || overflow || overflowAgain
            value = sum
        }
        guard !text.isEmpty else { throw ServerError("\(flag): the value is empty; \(accepted)") }
        guard !overflowed, range.contains(value) else {
            throw ServerError("\(flag): \(quoted(text)) is out of range; \(accepted)")
        }
        return value
    }

    /// A duration such as `30s`, `1m30s` or `500ms`, in seconds, within `range`.
    public static func duration(
        _ text: String,
        flag: String,
        in range: ClosedRange<Double>
    ) throws(ServerError) -> Double {
        let accepted = "accepted: \(DurationText.format(range.lowerBound)) to \(DurationText.format(range.upperBound))"
        guard !text.isEmpty else { throw ServerError("\(flag): the value is empty; \(accepted)") }
        guard let seconds = DurationText.seconds(text) else {
            throw ServerError("\(flag): \(quoted(text)) is not a duration (e.g. 30s, 1m30s); \(accepted)")
        }
        guard seconds.isFinite, range.contains(seconds) else {
            throw ServerError("\(flag): \(quoted(text)) is out of range; \(accepted)")
        }
        return seconds
    }

    /// A URL template such as `http://exporter-{shard}.exporter-headless:9817`: it must contain `placeholder`,
    /// and its expansion for every value in `values` must be an http(s) URL with a host, a port in range (if
    /// any), no user information, query or fragment. Returned unchanged.
    public static func urlTemplate(
        _ text: String,
        flag: String,
        placeholder: String,
        values: Range<Int>
    ) throws(ServerError) -> String {
        let example = "e.g. http://NAME-\(placeholder).NAME-headless:9817"
        guard !text.isEmpty else { throw ServerError("\(flag): the value is empty; \(example)") }
        guard text.contains(placeholder) else {
            throw ServerError("\(flag): \(quoted(text)) does not contain \(placeholder); \(example)")
        }
        for value in values {
            let url = text.replacing(placeholder, with: String(value))
            if let problem = urlProblem(url) {
                throw ServerError(
                    "\(flag): \(quoted(text)) gives \(quoted(url)) for \(value), which \(problem); \(example)"
                )
            }
        }
        return text
    }

    /// Why `url` is not a plain http(s) base URL, or nil.
    static func urlProblem(_ url: String) -> String? {
        let bytes = Array(url.utf8)
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return "contains a space, a control or a non-ASCII character"
        }
        let lower = url.lowercased()
        let schemeLength = lower.hasPrefix("http://") ? 7 : lower.hasPrefix("https://") ? 8 : 0
        guard schemeLength > 0 else { return "is not an http:// or https:// URL" }
        let rest = bytes.dropFirst(schemeLength)
        guard !rest.contains(UInt8(ascii: "?")), !rest.contains(UInt8(ascii: "#")) else {
            return "has a query or a fragment"
        }
        let authority = rest.prefix { $0 != UInt8(ascii: "/") }
        guard !authority.contains(UInt8(ascii: "@")) else { return "has user information" }
        var host = authority[...]
        var port: ArraySlice<UInt8>?
        if host.first == UInt8(ascii: "[") {
            guard let close = host.firstIndex(of: UInt8(ascii: "]")) else { return "has an unclosed [" }
            let after = host[(close + 1)...]
            if !after.isEmpty {
                guard after.first == UInt8(ascii: ":") else { return "has text after the ]" }
                port = after.dropFirst()
            }
            host = host[(host.startIndex + 1)..<close]
            guard host.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") }) else {
                return "has an invalid IPv6 address"
            }
        } else if let colon = host.lastIndex(of: UInt8(ascii: ":")) {
            port = host[(colon + 1)...]
            host = host[..<colon]
        }
        let hostBytes = "-._~%"
        let bracketed = authority.first == UInt8(ascii: "[")
        guard !host.isEmpty, bracketed || host.allSatisfy({ isLetterOrDigit($0) || hostBytes.utf8.contains($0) })
        else { return "has no valid host" }
        if let port {
            guard !port.isEmpty, port.count <= 5, port.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                let number = Int(String(decoding: port, as: UTF8.self)), (1...65_535).contains(number)
            else { return "has a port outside 1 to 65535" }
        }
        return nil
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...70).contains(byte) || (97...102).contains(byte)
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte)
    }

    /// Quoted, with control characters escaped: the message goes to a terminal or a log.
    private static func quoted(_ text: String) -> String { TextEscaping.json(text) }
}
