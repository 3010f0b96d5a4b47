import Foundation

/// Decoding of the summary API's answer (`POST /meters/{meterId}/summary`), which Zuora documents only in
/// part. Accepted, in the `success` / `data` envelope of `runStatus` (`success` absent or true):
/// - `data` an array of groups; or an object with an array under `groups`, `summary` or `items`; or an
///   object that is itself one group (it must then carry at least one count);
/// - a group's keys `operatorId`, `errorCode`, `sessionId`: each optional, a string or a number, null for
///   none; other keys are ignored;
/// - counts `outputCount`, `errorCount`: integers 0...2^53 as numbers or strings of digits, absent or
///   null meaning 0; `totalCount` is read the same way but not summed (output + error is the total).
/// Anything else (success false, no data, a group that is not an object, a negative, fractional, too large
/// or non-numeric count, a key of another type) is a `decode` problem.
extension ZuoraResponses {
    public static func summary(from body: [UInt8]) -> Result<SessionSummary, DecodeProblem> {
        let envelope: SummaryEnvelope
        do {
            envelope = try JSONDecoder().decode(SummaryEnvelope.self, from: Data(body))
        } catch let error as DecodingError {
            return .failure(DecodeProblem(describe(error)))
        } catch {
            return .failure(DecodeProblem("body is not JSON"))
        }
        if envelope.success == false {
            return .failure(DecodeProblem("success is false: \(errorSummary(from: body) ?? "no error details")"))
        }
        guard let groups = envelope.data?.groups else { return .failure(DecodeProblem("data is missing")) }
        var summary = SessionSummary()
        for group in groups {
            summary.add(
                operatorId: group.operatorId?.text,
                errorCode: group.errorCode?.text,
                counts: RecordCounts(output: group.outputCount?.value ?? 0, error: group.errorCount?.value ?? 0)
            )
        }
        return .success(summary)
    }

    /// Where and what, without the value (a count or key can be anything a hostile answer chose).
    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let text = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.isEmpty ? "the body" : String(text.drop { $0 == "." })
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return "body is not JSON"
        case .dataCorrupted(let context), .typeMismatch(_, let context), .valueNotFound(_, let context),
            .keyNotFound(_, let context):
            return "\(Excerpt.of(path(context), limit: 100)): \(Excerpt.of(context.debugDescription, limit: 100))"
        @unknown default:
            return "body does not decode"
        }
    }
}

private struct SummaryEnvelope: Decodable {
    let success: Bool?
    let data: SummaryData?

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        success = try? container.decodeIfPresent(Bool.self, forKey: .success)
        data = try container.decodeIfPresent(SummaryData.self, forKey: .data)
    }

    enum CodingKeys: String, CodingKey { case success, data }
}

/// The accepted shapes of `data`, as a list of groups.
private struct SummaryData: Decodable {
    let groups: [SummaryGroup]

    init(from decoder: any Decoder) throws {
        if var list = try? decoder.unkeyedContainer() {
            var groups: [SummaryGroup] = []
            while !list.isAtEnd { groups.append(try list.decode(SummaryGroup.self)) }
            self.groups = groups
            return
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        for key in [CodingKeys.groups, .summary, .items] where container.contains(key) {
            groups = try container.decode([SummaryGroup].self, forKey: key)
            return
        }
        let single = try SummaryGroup(from: decoder)
        guard single.hasCount else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: decoder.codingPath,
                    debugDescription: "neither a list of groups nor a group with counts"
                )
            )
        }
        groups = [single]
    }

    enum CodingKeys: String, CodingKey { case groups, summary, items }
}

private struct SummaryGroup: Decodable {
    let operatorId: GroupKey?
    let errorCode: GroupKey?
    let sessionId: GroupKey?
    let outputCount: RecordCount?
    let errorCount: RecordCount?
    let totalCount: RecordCount?

    var hasCount: Bool { outputCount != nil || errorCount != nil || totalCount != nil }

    enum CodingKeys: String, CodingKey { case operatorId, errorCode, sessionId, outputCount, errorCount, totalCount }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        operatorId = try container.decodeIfPresent(GroupKey.self, forKey: .operatorId)
        errorCode = try container.decodeIfPresent(GroupKey.self, forKey: .errorCode)
        sessionId = try container.decodeIfPresent(GroupKey.self, forKey: .sessionId)
        outputCount = try container.decodeIfPresent(RecordCount.self, forKey: .outputCount)
        errorCount = try container.decodeIfPresent(RecordCount.self, forKey: .errorCount)
        totalCount = try container.decodeIfPresent(RecordCount.self, forKey: .totalCount)
    }
}

/// A group key: a string or a number (as its decimal text); null is none.
private struct GroupKey: Decodable {
    let text: String?

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            text = nil
        } else if let string = try? container.decode(String.self) {
            text = string
        } else if let int = try? container.decode(Int64.self) {
            text = String(int)
        } else if let number = try? container.decode(Double.self), number.isFinite {
            text = number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        } else {
            throw DecodingError.typeMismatch(
                String.self,
                .init(codingPath: decoder.codingPath, debugDescription: "expected a string or a number")
            )
        }
    }
}

/// A record count: an integer 0...2^53 (beyond, a Double in Prometheus would no longer be exact) sent as a
/// number or a string of digits. Shared by the summary answer and the periodic callout.
public struct RecordCount: Decodable, Sendable, Equatable {
    public static let maximum: UInt64 = 1 << 53

    public let value: UInt64

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        func invalid(_ why: String) -> DecodingError {
            .dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: why))
        }
        let parsed: UInt64
        if container.decodeNil() {
            parsed = 0
        } else if let int = try? container.decode(UInt64.self) {
            parsed = int
        } else if let int = try? container.decode(Int64.self) {
            throw invalid(int < 0 ? "a count must not be negative" : "not a count")
        } else if let number = try? container.decode(Double.self) {
            guard number.isFinite, number >= 0, number == number.rounded(), number <= Double(Self.maximum) else {
                throw invalid("a count must be a whole number from 0 to 2^53")
            }
            parsed = UInt64(number)
        } else if let text = try? container.decode(String.self) {
            guard let number = Self.parse(text) else { throw invalid("a count must be a whole number from 0 to 2^53") }
            parsed = number
        } else {
            throw invalid("a count must be a number or a string of digits")
        }
        guard parsed <= Self.maximum else { throw invalid("a count must not exceed 2^53") }
        value = parsed
    }

    /// A string of ASCII digits (blanks around allowed), at most 2^53.
    public static func parse(_ text: String) -> UInt64? {
        let digits = text.trimmingCharacters(in: .whitespaces)
        guard !digits.isEmpty, digits.utf8.count <= 16, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
            let value = UInt64(digits), value <= maximum
        else { return nil }
        return value
    }
}
