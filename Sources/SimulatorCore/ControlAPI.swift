import Foundation
import MediationCore
import Synchronization

/// The simulator's control API, for tests and demos (not part of Zuora's API):
///
/// - `POST /_control/meters/{id}/{version}/status` `{"status": 8}` or `{"status": "FAILED"}`: set and pin a
///   meter's status (creating the meter); `{"release": true}` lets its lifecycle run again. Pinning starts a
///   session (`S-{id}-{n}`) if none runs, and an ended status (COMPLETED, FAILED, CANCELED, TESTING_PASSED,
///   TESTING_FAILED) ends it with its records, as the lifecycle does; every change is a status callout.
/// - `POST /_control/meters/{id}/{version}/records` `{"operators": 10000, "errorRate": 0.5}`: how many
///   distinct operator ids the meter's runs report (1–100,000, default 3: op-read, op-transform, op-write,
///   then op-4, op-5…) and the share of records that fail while a run goes well (0–1, default 0.02; a run
///   that ends FAILED gets a burst of E_VALIDATION or E_TIMEOUT errors on top). Applies to the running
///   session and later ones; either field may be left out.
/// - `DELETE /_control/meters/{id}/{version}`: remove a meter (its polls get 404).
/// - `POST /_control/meters/{id}/{version}/fault` (that meter-version's runStatus),
///   `POST /_control/fault` (`"target": "token"`, `"summary"` for the summary requests of every meter, or
///   `"all"`, the default, for every request to the Zuora API):
///   `{"status": 500, "body": "...", "count": 2, "retryAfter": 5, "delay": 0.5, "bodyBytes": 20000000,
///   "probability": 0.1}` answers the next `count`
///   requests (all while no count is given) with that status and body. `"reset": true` closes the
///   connection instead, without any answer (the status may then be left out; curl reports "Empty reply
///   from server"); `"truncateAfter": 10` sends the status, the headers with the whole body's
///   Content-Length and only the first 10 bytes of the body, then closes the connection (a truncated
///   transfer). Both come after any `delay`.
/// - `DELETE /_control/faults`: clears every fault. `POST /_control/tokens/revoke`: expires every token.
/// - `GET /_control/stats`: counters as JSON: `tokenRequests`, `runStatusRequests`, `summaryRequests`,
///   `meters`, `connections`, `perMeter` (runStatus requests per `"id/version"`), and for callouts
///   `calloutsSent` (notifications delivered), `calloutAttempts` (HTTP requests, challenge round trips
///   included), `calloutsFailed` (given up), `calloutsDropped` (pushed out of the full queue).
extension ZuoraSimulator {
    struct ControlBody: Decodable {
        var status: StatusValue?
        var release: Bool?
        var body: String?
        var count: Int?
        var retryAfter: Int?
        var delay: Double?
        var target: String?
        /// Pads the fault's body to this many bytes (a runaway answer).
        var bodyBytes: Int?
        /// The share of requests (0–1) that get the fault.
        var probability: Double?
        /// Close the connection without answering.
        var reset: Bool?
        /// Send only this many bytes of the body, then close the connection.
        var truncateAfter: Int?
        /// Records: distinct operator ids per run, and the share of failing records.
        var operators: Int?
        var errorRate: Double?
    }

    /// A status given as a code or as a documented name.
    struct StatusValue: Decodable {
        let code: Int?
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let code = try? container.decode(Int.self) {
                self.code = code
            } else {
                self.code = (try? container.decode(String.self)).flatMap { RunStatus(name: $0)?.code }
            }
        }
    }

    func control(_ request: HTTPRequest, _ parts: [String], now: Double) -> HTTPResponse {
        let body =
            request.body.isEmpty
            ? ControlBody() : (try? JSONDecoder().decode(ControlBody.self, from: Data(request.body)))
        guard let body else { return .json(400, #"{"error":"body is not the JSON object the control API expects"}"#) }
        switch (request.method, parts) {
        case ("GET", ["stats"]):
            let (tokens, polls, summaries, meters, perMeter) = state.withLock {
                ($0.tokenRequests, $0.runStatusRequests, $0.summaryRequests, $0.meters.count, $0.requestsPerMeter)
            }
            let callouts = calloutStats()
            let counts = perMeter.sorted { $0.key < $1.key }
                .map { "\(TextEscaping.json("\($0.key.meterId)/\($0.key.version)")):\($0.value)" }.joined(
                    separator: ","
                )
            return .json(
                200,
                #"{"tokenRequests":\#(tokens),"runStatusRequests":\#(polls),"summaryRequests":\#(summaries),"#
                    + #""meters":\#(meters),"connections":\#(connectionsOpened()),"#
                    + #""calloutsSent":\#(callouts.sent),"calloutAttempts":\#(callouts.attempts),"#
                    + #""calloutsFailed":\#(callouts.failed),"calloutsDropped":\#(callouts.dropped),"#
                    + #""perMeter":{\#(counts)}}"#
            )
        case ("POST", ["tokens", "revoke"]):
            state.withLock { $0.tokens.removeAll() }
            return .json(200, #"{"revoked":true}"#)
        case ("DELETE", ["faults"]):
            state.withLock { state in
                state.meterFaults.removeAll()
                state.tokenFault = nil
                state.allFault = nil
                state.summaryFault = nil
            }
            return .json(200, #"{"cleared":true}"#)
        case ("POST", ["fault"]):
            guard let fault = Self.fault(from: body) else {
                return .json(400, #"{"error":"fault needs a status (100-599) or reset"}"#)
            }
            switch body.target ?? "all" {
            case "token": state.withLock { $0.tokenFault = fault }
            case "all": state.withLock { $0.allFault = fault }
            case "summary": state.withLock { $0.summaryFault = fault }
            default: return .json(400, #"{"error":"target is token, summary or all"}"#)
            }
            return .json(200, #"{"injected":true}"#)
        case (let method, let path) where path.count >= 3 && path[0] == "meters":
            guard let id = Int64(path[1]), let version = PathEncoding.decode(Substring(path[2])) else {
                return .json(400, #"{"error":"meter id must be an integer"}"#)
            }
            return controlMeter(
                method,
                MeterKey(meterId: id, version: version),
                Array(path.dropFirst(3)),
                body,
                now: now
            )
        default:
            return .json(404, #"{"error":"unknown control endpoint"}"#)
        }
    }

    private func controlMeter(
        _ method: String,
        _ key: MeterKey,
        _ rest: [String],
        _ body: ControlBody,
        now: Double
    )
        -> HTTPResponse
    {
        switch (method, rest) {
        case ("DELETE", []):
            state.withLock { $0.meters[key] = nil }
            return .json(200, #"{"removed":true}"#)
        case ("POST", ["status"]):
            if body.release == true {
                state.withLock { state in
                    state.meters[key, default: newMeter(key, now: now)].pinned = false
                    state.meters[key]?.nextChangeAt = now + (settings.step ?? 0)
                }
                return .json(200, #"{"released":true}"#)
            }
            guard let code = body.status?.code else {
                return .json(400, #"{"error":"status must be an integer code or a documented status name"}"#)
            }
            state.withLock { state in
                // Catch up first, so that the pinned change comes after the lifecycle's own.
                state.advance(key, to: now, settings: settings)
                state.change(
                    key,
                    to: RunStatus(code: code),
                    at: now,
                    meter: newMeter(key, now: now),
                    settings: settings
                )
            }
            return .json(200, #"{"status":\#(code)}"#)
        case ("POST", ["records"]):
            guard body.operators.map({ (1...RecordSettings.maxOperators).contains($0) }) ?? true,
                body.errorRate.map({ $0.isFinite && (0...1).contains($0) }) ?? true
            else {
                return .json(400, #"{"error":"operators is 1-100000 and errorRate 0-1"}"#)
            }
            let records = state.withLock { state -> RecordSettings in
                state.advance(key, to: now, settings: settings)
                var meter = state.meters[key] ?? newMeter(key, now: now)
                meter.setRecords(
                    RecordSettings(
                        operators: body.operators ?? meter.records.operators,
                        errorRate: body.errorRate ?? meter.records.errorRate
                    )
                )
                state.meters[key] = meter
                return meter.records
            }
            return .json(200, #"{"operators":\#(records.operators),"errorRate":\#(records.errorRate)}"#)
        case ("POST", ["fault"]):
            guard let fault = Self.fault(from: body) else {
                return .json(400, #"{"error":"fault needs a status (100-599) or reset"}"#)
            }
            state.withLock { $0.meterFaults[key] = fault }
            return .json(200, #"{"injected":true}"#)
        default:
            return .json(404, #"{"error":"unknown control endpoint"}"#)
        }
    }

    static func fault(from body: ControlBody) -> InjectedFault? {
        // A reset sends no status line, so it needs none.
        guard let status = body.status?.code ?? (body.reset == true ? 200 : nil), (100...599).contains(status)
        else { return nil }
        var text =
            body.body ?? #"{"success":false,"reasons":[{"code":"SimulatedFault","message":"injected by a test"}]}"#
        if let size = body.bodyBytes, size > text.utf8.count {
            // Valid JSON of the asked size: only its size is wrong.
            text = #"{"pad":""# + String(repeating: "x", count: min(size, 64 << 20) - 10) + #""}"#
        }
        var fault = InjectedFault(
            status: status,
            body: text,
            remaining: body.count,
            retryAfter: body.retryAfter,
            delay: body.delay ?? 0
        )
        fault.probability = min(max(body.probability ?? 1, 0), 1)
        if body.reset == true {
            fault.breakoff = .closeWithoutAnswer
        } else if let truncateAfter = body.truncateAfter {
            fault.breakoff = .truncateBody(after: max(0, truncateAfter))
        }
        return fault
    }
}
