import MediationCore
import Synchronization

/// `POST /meters/{meterId}/summary`: output and error counts of a meter's sessions (every version of the
/// meter), selected by `sessionIds` or else by overlap with the time window (all kept sessions without
/// either), filtered by `operatorIds`, summed per group of the `groupBy` keys. With `errorCode` among the
/// keys, a group's output sits in the group whose `errorCode` is null and errors in the groups of their
/// codes. Answers `{"success":true,"data":[{...keys, "outputCount", "errorCount", "totalCount"}]}`.
extension ZuoraSimulator {
    /// Larger answers are refused (400) rather than built: 100,000 operators times 20 sessions times two
    /// error codes would be a body of hundreds of megabytes.
    static let maxSummaryGroups = 500_000

    func summary(_ request: HTTPRequest, id: String, now: Double) -> Answer {
        var headers = [("Zuora-Request-Id", requestId())]
        if let track = request.header("Zuora-Track-Id") { headers.append(("Zuora-Track-Id", track)) }
        func refuse(_ status: Int, _ body: String) -> Answer {
            Answer(response: .json(status, body, headers: headers), delay: 0)
        }
        guard request.method == "POST" else {
            return refuse(405, Self.reasons("METHOD_NOT_ALLOWED", "use POST"))
        }
        let token = bearerToken(request)
        let selected = state.withLock { state -> Result<[SimulatedSession], InjectedFault>? in
            state.summaryRequests += 1
            if let fault = Self.take(&state.allFault) ?? Self.take(&state.summaryFault) { return .failure(fault) }
            guard let token, let expiry = state.tokens[token], now < expiry else { return .failure(Self.unauthorized) }
            guard let meterId = Int64(id) else { return nil }
            let keys = state.meters.keys.filter { $0.meterId == meterId }.sorted { $0.version < $1.version }
            guard !keys.isEmpty else {
                return .failure(
                    InjectedFault(
                        status: 404,
                        body:
                            #"{"success":false,"error":{"code":"70002103","message":"METER_NOT_EXISTING"},"data":{}}"#,
                        remaining: nil,
                        retryAfter: nil,
                        delay: 0
                    )
                )
            }
            for key in keys { state.advance(key, to: now, settings: settings) }
            return .success(keys.flatMap { state.meters[$0]?.sessions ?? [] })
        }
        switch selected {
        case nil:
            return refuse(400, Self.reasons("INVALID_VALUE", "meterId must be an integer"))
        case .failure(let fault)?:
            var answer = Self.answer(fault)
            answer.response.headers += headers
            return answer
        case .success(let sessions)?:
            let query: SummaryQuery
            switch SummaryQuery.parse(request.body) {
            case .failure(let problem): return refuse(400, Self.reasons("INVALID_VALUE", problem.description))
            case .success(let parsed): query = parsed
            }
            guard let body = Self.summaryBody(sessions, query, now: now) else {
                let message = "the answer would exceed \(Self.maxSummaryGroups) groups: narrow the query"
                return refuse(400, Self.reasons("INVALID_VALUE", message))
            }
            return Answer(response: Self.compressIfAsked(.json(200, body, headers: headers), request), delay: 0)
        }
    }

    /// Zuora's error shape for `/meters` 400 and 500 answers.
    static func reasons(_ code: String, _ message: String) -> String {
        #"{"success":false,"reasons":[{"code":\#(TextEscaping.json(code)),"message":\#(TextEscaping.json(message))}]}"#
    }

    /// The answer's body, or nil when it would hold too many groups.
    static func summaryBody(_ sessions: [SimulatedSession], _ query: SummaryQuery, now: Double) -> String? {
        let chosen = sessions.filter { session in
            if let ids = query.sessionIds { return ids.contains(session.sessionId) }
            return session.overlaps(from: query.from, to: query.to, now: now)
        }
        var groups = SummaryGroups(keys: query.groupBy)
        for session in chosen {
            for index in 0..<session.records.operators {
                let operatorId = SimulatedSession.operatorId(index)
                if let wanted = query.operatorIds, !wanted.contains(operatorId) { continue }
                let records = session.counts(operator: index, at: now)
                groups.add(session.sessionId, operatorId, records)
                guard groups.count <= maxSummaryGroups else { return nil }
            }
        }
        return #"{"success":true,"data":[\#(groups.json())]}"#
    }
}

/// Sums of output and error counts per combination of the asked keys, in the order first seen.
struct SummaryGroups {
    struct Group {
        var sessionId: String?
        var operatorId: String?
        var errorCode: String?
        var output = 0
        var errors = 0
    }

    let keys: [SummaryQuery.Key]
    private var groups: [Group] = []
    private var index: [String: Int] = [:]

    init(keys: [SummaryQuery.Key]) { self.keys = keys }

    var count: Int { groups.count }

    mutating func add(_ sessionId: String, _ operatorId: String, _ records: OperatorRecords) {
        let byCode = keys.contains(.errorCode)
        if byCode {
            add(Group(sessionId: sessionId, operatorId: operatorId, output: records.output))
            for (code, count) in records.errors {
                let name = SimulatedSession.errorCodes[code]
                add(Group(sessionId: sessionId, operatorId: operatorId, errorCode: name, errors: count))
            }
        } else {
            add(Group(sessionId: sessionId, operatorId: operatorId, output: records.output, errors: records.errorCount))
        }
    }

    private mutating func add(_ group: Group) {
        var group = group
        if !keys.contains(.sessionId) { group.sessionId = nil }
        if !keys.contains(.operatorId) { group.operatorId = nil }
        // The unit separator cannot occur in ids the simulator makes.
        let name = [group.sessionId, group.operatorId, group.errorCode].map { $0 ?? "\u{1F}" }.joined(
            separator: "\u{1E}"
        )
        if let at = index[name] {
            groups[at].output += group.output
            groups[at].errors += group.errors
        } else {
            index[name] = groups.count
            groups.append(group)
        }
    }

    func json() -> String {
        groups.map { group in
            var fields: [String] = []
            for key in keys {
                let value: String? =
                    switch key {
                    case .sessionId: group.sessionId
                    case .operatorId: group.operatorId
                    case .errorCode: group.errorCode
                    }
                fields.append("\"\(key.rawValue)\":" + (value.map(TextEscaping.json) ?? "null"))
            }
            fields.append(#""outputCount":\#(group.output),"errorCount":\#(group.errors)"#)
            fields.append(#""totalCount":\#(group.output + group.errors)"#)
            return "{" + fields.joined(separator: ",") + "}"
        }
        .joined(separator: ",")
    }
}
