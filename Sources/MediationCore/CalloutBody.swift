import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The JSON body the callout template sends (see the README for the template):
/// `meterId`, `meterName`, `sessionId`, `runType`, `status`, `previousStatus`, `startTime`, `endTime`,
/// and optionally `version`. Ids may be numbers or strings; times are ISO 8601 and may be empty.
public enum CalloutBody {
    /// Longest values kept from a callout, in UTF-8 bytes. Everything a callout carries can end up in
    /// memory, on /metrics and on the landing page: longer values are refused (400), not cut, so that
    /// two different long values never merge into one.
    public enum Limits {
        public static let version = 64
        public static let meterName = 256
        public static let sessionId = 128
        public static let notificationId = 128
    }

    public static func parse(_ body: [UInt8]) -> Result<StatusEvent, CalloutProblem> {
        guard let fields = try? JSONDecoder().decode(Fields.self, from: Data(body)) else {
            return .failure(CalloutProblem("body is not a JSON object"))
        }
        for (name, value, limit) in [
            ("version", fields.version?.text, Limits.version),
            ("meterName", fields.meterName?.text, Limits.meterName),
            ("sessionId", fields.sessionId?.text, Limits.sessionId),
        ] {
            if let value, value.utf8.count > limit {
                return .failure(CalloutProblem("\(name) is longer than \(limit) bytes"))
            }
        }
        guard let meterText = fields.meterId?.text, let meterId = Int64(meterText), meterId > 0 else {
            return .failure(CalloutProblem("meterId is missing or not a positive integer"))
        }
        guard let statusName = fields.status?.text, !statusName.isEmpty else {
            return .failure(CalloutProblem("status is missing"))
        }
        guard let status = RunStatus(name: statusName.uppercased()) else {
            return .failure(CalloutProblem("status \(Excerpt.of(statusName)) is not a documented session status"))
        }
        var previous: RunStatus?
        if let previousName = fields.previousStatus?.text, !previousName.isEmpty {
            guard let known = RunStatus(name: previousName.uppercased()) else {
                return .failure(
                    CalloutProblem("previousStatus \(Excerpt.of(previousName)) is not a documented session status")
                )
            }
            previous = known
        }
        guard let sessionId = fields.sessionId?.text, !sessionId.isEmpty else {
            return .failure(CalloutProblem("sessionId is missing"))
        }
        let runType = (fields.runType?.text).map { $0.isEmpty ? "NORMAL" : $0.uppercased() } ?? "NORMAL"
        guard runType == "NORMAL" || runType == "DEBUG" else {
            return .failure(CalloutProblem("runType \(Excerpt.of(runType)) is neither NORMAL nor DEBUG"))
        }
        var version = ExporterConfig.defaultVersion
        if let given = fields.version?.text, !given.isEmpty { version = given }
        var duration: Double?
        let startText = fields.startTime?.text ?? ""
        let endText = fields.endTime?.text ?? ""
        if !endText.isEmpty {
            guard let end = ISO8601.seconds(endText) else {
                return .failure(CalloutProblem("endTime \(Excerpt.of(endText)) is not ISO 8601"))
            }
            if !startText.isEmpty {
                guard let start = ISO8601.seconds(startText) else {
                    return .failure(CalloutProblem("startTime \(Excerpt.of(startText)) is not ISO 8601"))
                }
                if end >= start { duration = end - start }
            }
        }
        return .success(
            StatusEvent(
                key: MeterKey(meterId: meterId, version: version),
                meterName: fields.meterName?.text,
                sessionId: sessionId,
                runType: runType,
                status: status,
                previousStatus: previous,
                sessionDuration: duration
            )
        )
    }

    private struct Fields: Decodable {
        var meterId: Scalar?
        var meterName: Scalar?
        var sessionId: Scalar?
        var runType: Scalar?
        var status: Scalar?
        var previousStatus: Scalar?
        var startTime: Scalar?
        var endTime: Scalar?
        var version: Scalar?
    }

    /// A JSON string or number (or null), as text.
    private struct Scalar: Decodable {
        let text: String?
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let string = try? container.decode(String.self) {
                text = string.trimmingCharacters(in: .whitespaces)
            } else if let int = try? container.decode(Int64.self) {
                text = String(int)
            } else if container.decodeNil() {
                text = nil
            } else {
                throw DecodingError.typeMismatch(
                    String.self,
                    .init(codingPath: decoder.codingPath, debugDescription: "not a scalar")
                )
            }
        }
    }
}

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

public struct CalloutProblem: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// ISO 8601 date-times as callouts carry them: `2026-02-20T17:49:11Z`, with optional fraction and
/// `Z` or `±hh:mm` offset; a space may stand for `T`; no offset means UTC.
public enum ISO8601 {
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
