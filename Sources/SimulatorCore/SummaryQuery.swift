import Foundation
import MediationCore

/// The body of `POST /meters/{meterId}/summary`, as far as Zuora documents it (the JSON keys are our reading
/// of the prose): `groupBy` (`operatorId`, `errorCode`, `sessionId`; a list or one string), `sessionIds`,
/// `operatorIds`, `queryFromTime` and `queryToTime` (ISO 8601). Every field is optional; unknown keys are
/// ignored. Anything else is refused with a message for Zuora's 400 error shape, never a trap.
public struct SummaryQuery: Sendable, Equatable {
    public enum Key: String, Sendable, CaseIterable {
        case operatorId
        case errorCode
        case sessionId
    }

    /// Longest id the filters accept, and most ids per filter: a hostile body must not cost much.
    static let maxIdBytes = 256
    static let maxIds = 100_000

    public var groupBy: [Key] = []
    public var sessionIds: Set<String>?
    public var operatorIds: Set<String>?
    public var from: Double?
    public var to: Double?

    public init() {}

    public static func parse(_ body: [UInt8]) -> Result<SummaryQuery, SummaryProblem> {
        // An empty body asks for everything, ungrouped.
        guard body.contains(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) else { return .success(SummaryQuery()) }
        guard let fields = try? JSONDecoder().decode([String: Field].self, from: Data(body)) else {
            return .failure(SummaryProblem("the body is not a JSON object"))
        }
        var query = SummaryQuery()
        switch fields["groupBy"] {
        case nil, .null?: break
        case .string(let name)?:
            guard let key = Key(rawValue: name) else { return .failure(unknownKey(name)) }
            query.groupBy = [key]
        case .strings(let names)?:
            for name in names {
                guard let key = Key(rawValue: name) else { return .failure(unknownKey(name)) }
                if !query.groupBy.contains(key) { query.groupBy.append(key) }
            }
        case .other?:
            return .failure(SummaryProblem("groupBy must be one of operatorId, errorCode, sessionId or a list of them"))
        }
        for (name, path) in [("sessionIds", \SummaryQuery.sessionIds), ("operatorIds", \SummaryQuery.operatorIds)] {
            switch fields[name] {
            case nil, .null?: break
            case .strings(let ids)?:
                guard ids.count <= maxIds, ids.allSatisfy({ $0.utf8.count <= maxIdBytes }) else {
                    return .failure(
                        SummaryProblem("\(name) holds more than \(maxIds) ids or one over \(maxIdBytes) bytes")
                    )
                }
                query[keyPath: path] = Set(ids)
            case .string?, .other?:
                return .failure(SummaryProblem("\(name) must be an array of strings"))
            }
        }
        for (name, path) in [("queryFromTime", \SummaryQuery.from), ("queryToTime", \SummaryQuery.to)] {
            switch fields[name] {
            case nil, .null?: break
            case .string(let text)?:
                guard let seconds = ISO8601.seconds(text) else {
                    return .failure(SummaryProblem("\(name) \(Excerpt.of(text)) is not an ISO 8601 date-time"))
                }
                query[keyPath: path] = seconds
            case .strings?, .other?:
                return .failure(SummaryProblem("\(name) must be an ISO 8601 date-time string"))
            }
        }
        if let from = query.from, let to = query.to, from > to {
            return .failure(SummaryProblem("queryFromTime is after queryToTime"))
        }
        return .success(query)
    }

    private static func unknownKey(_ name: String) -> SummaryProblem {
        SummaryProblem("groupBy \(Excerpt.of(name)) is none of operatorId, errorCode, sessionId")
    }

    /// A top-level value, only as precise as the checks need.
    private enum Field: Decodable {
        case null
        case string(String)
        case strings([String])
        case other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let text = try? container.decode(String.self) {
                self = .string(text)
            } else if let texts = try? container.decode([String].self) {
                self = .strings(texts)
            } else {
                self = .other
            }
        }
    }
}

/// Why a summary request is refused (400).
public struct SummaryProblem: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
