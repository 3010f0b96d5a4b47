/// Parses Prometheus-style durations: `500ms`, `30s`, `5m`, `1h30m`, `1d`.
public enum DurationText {
    /// The longest duration a configuration may give: a year.
    public static let maximum: Double = 366 * 86_400

    public static func seconds(_ text: String) -> Double? {
        let units: [(String, Double)] = [
            ("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800),
        ]
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !digits.isEmpty, let number = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            guard
                let (unit, factor) = units.first(where: {
                    rest.hasPrefix($0.0) && !(($0.0 == "m") && rest.hasPrefix("ms"))
                })
            else { return nil }
            rest = rest.dropFirst(unit.count)
            total += number * factor
        }
        return total
    }

    /// `30s`, `5m`, `1h30m` for whole seconds; `250ms` below a second.
    public static func format(_ seconds: Double) -> String {
        // Clamped: formatting must never trap, whatever it is given.
        guard seconds.isFinite else { return seconds > 0 ? "forever" : "0s" }
        let seconds = min(max(seconds, 0), maximum * 100)
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        var rest = Int(seconds.rounded())
        var out = ""
        for (unit, size) in [("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            out += "\(rest / size)\(unit)"
            rest %= size
        }
        return out
    }
}
