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

    /// Quoted, with control characters escaped: the message goes to a terminal or a log.
    private static func quoted(_ text: String) -> String { TextEscaping.json(text) }
}
