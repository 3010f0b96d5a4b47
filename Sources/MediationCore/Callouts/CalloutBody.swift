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
    struct Scalar: Decodable {
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

public struct CalloutProblem: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
