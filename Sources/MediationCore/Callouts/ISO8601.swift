import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// ISO 8601 date-times as callouts carry them: `2026-02-20T17:49:11Z`, with optional fraction and
/// `Z` or `±hh:mm` offset; a space may stand for `T`; no offset means UTC.
public enum ISO8601 {
    /// `2026-11-29T10:00:00Z`: UTC, whole seconds (the fraction is dropped).
    public static func format(_ seconds: Double) -> String {
        var time = time_t(seconds.isFinite ? max(0, min(seconds, 253_402_300_799)) : 0)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }

    public static func seconds(_ text: String) -> Double? {
        let scalars = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= scalars.count else { return nil }
            var value = 0
            for byte in scalars[range] {
                guard byte >= 48, byte <= 57 else { return nil }
                value = value * 10 + Int(byte - 48)
            }
            return value
        }
        guard scalars.count >= 19, scalars[4] == 45, scalars[7] == 45,
            scalars[10] == 84 || scalars[10] == 32 || scalars[10] == 116,
            scalars[13] == 58, scalars[16] == 58,
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var index = 19
        var fraction = 0.0
        if index < scalars.count, scalars[index] == 46 {
            index += 1
            var scale = 0.1
            let start = index
            while index < scalars.count, scalars[index] >= 48, scalars[index] <= 57 {
                fraction += Double(scalars[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        var offset = 0
        if index < scalars.count {
            switch scalars[index] {
            case 90, 122: index += 1  // Z
            case 43, 45:  // + or -
                let sign = scalars[index] == 43 ? 1 : -1
                guard let hours = number(index + 1..<index + 3) else { return nil }
                var minutesStart = index + 3
                if minutesStart < scalars.count, scalars[minutesStart] == 58 { minutesStart += 1 }
                guard let minutes = number(minutesStart..<minutesStart + 2) else { return nil }
                offset = sign * (hours * 3600 + minutes * 60)
                index = minutesStart + 2
            default: return nil
            }
        }
        guard index == scalars.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        return Double(timegm(&parts) - offset) + fraction
    }
}
