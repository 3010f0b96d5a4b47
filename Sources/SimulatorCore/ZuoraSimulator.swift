import Foundation
public import MediationCore
import Synchronization

/// A local stand-in for the parts of the Zuora API the exporter uses, faithful to the API reference and
/// the notes in shared/: OAuth client credentials, `GET /meters/{id}/{version}/runStatus` with its
/// documented bodies and error shapes, `POST /meters/{id}/summary` over the records of the meters' runs
/// (see `SimulatedSession`), gzip over 1,000 bytes; the events its callouts tell (`events(now:)`); plus a
/// control API under `/_control/` for tests. Time comes from the caller, so behaviour is testable without
/// waiting.
public final class ZuoraSimulator: Sendable {
    public struct Settings: Sendable {
        public var clientId: String
        public var clientSecret: String
        public var tokenLifetime: Double
        /// Seconds between lifecycle steps; nil keeps every meter where the control API puts it.
        public var step: Double?
        /// Keep status changes for `events(now:)` (status callouts are configured).
        public var statusEvents = false
        /// Seconds between periodic snapshots of running sessions; nil sends none.
        public var periodicInterval: Double?

        public init(clientId: String, clientSecret: String, tokenLifetime: Double = 3599, step: Double? = nil) {
            self.clientId = clientId
            self.clientSecret = clientSecret
            self.tokenLifetime = tokenLifetime
            self.step = step
        }

        /// Seconds per tick of a session's records: a lifecycle step, or a second for pinned meters.
        var recordTick: Double { step ?? 1 }
    }

    /// An answer and how long to hold it back (for injected slowness).
    public struct Answer: Sendable {
        public var response: HTTPResponse
        public var delay: Double
        /// An injected fault that breaks the connection off instead of answering whole.
        public var breakoff: SimulatedBreakoff?

        public init(response: HTTPResponse, delay: Double, breakoff: SimulatedBreakoff? = nil) {
            self.response = response
            self.delay = delay
            self.breakoff = breakoff
        }
    }

    struct State {
        var meters: [MeterKey: SimulatedMeter] = [:]
        var tokens: [String: Double] = [:]
        var meterFaults: [MeterKey: InjectedFault] = [:]
        var tokenFault: InjectedFault?
        var allFault: InjectedFault?
        var summaryFault: InjectedFault?
        var tokenRequests = 0
        var runStatusRequests = 0
        var summaryRequests = 0
        var requestsPerMeter: [MeterKey: Int] = [:]
        var sequence: UInt64 = 0
        /// Status changes not yet taken by `events(now:)`, oldest first (bounded: see `outboxLimit`).
        var outbox: [(MeterKey, StatusChange)] = []
        var outboxDropped = 0
        /// Per meter-version: the session number and how many periodic snapshots it has had.
        var periodicMarks: [MeterKey: (session: Int, count: Int)] = [:]

        /// Sessions started per meter id: session numbers go on across a meter's versions, so that a
        /// session id names one session of the meter.
        var runsPerMeter: [Int64: Int] = [:]

        /// Advances a meter's lifecycle, keeping its changes for callouts when they are wanted.
        mutating func advance(_ key: MeterKey, to now: Double, settings: Settings) {
            guard var meter = meters[key], settings.step != nil, !meter.pinned, now >= meter.nextChangeAt else {
                return
            }
            var runs = runsPerMeter[key.meterId] ?? 0
            let changes = meter.advance(to: now, step: settings.step) {
                runs += 1
                return runs
            }
            runsPerMeter[key.meterId] = runs
            meters[key] = meter
            keep(changes.map { (key, $0) }, settings: settings)
        }

        /// Sets a meter's status (making the meter if needed) and keeps the change for callouts.
        mutating func change(
            _ key: MeterKey,
            to status: RunStatus,
            at now: Double,
            meter new: SimulatedMeter,
            settings: Settings
        ) {
            var meter = meters[key] ?? new
            var runs = runsPerMeter[key.meterId] ?? 0
            let change = meter.change(to: status, at: now, tick: settings.recordTick) {
                runs += 1
                return runs
            }
            runsPerMeter[key.meterId] = runs
            meter.pinned = true
            meters[key] = meter
            if let change { keep([(key, change)], settings: settings) }
        }

        mutating func keep(_ changes: [(MeterKey, StatusChange)], settings: Settings) {
            guard settings.statusEvents else { return }
            outbox += changes
            if outbox.count > ZuoraSimulator.outboxLimit {
                outboxDropped += outbox.count - ZuoraSimulator.outboxLimit
                outbox.removeFirst(outbox.count - ZuoraSimulator.outboxLimit)
            }
        }
    }

    /// Status changes kept for callouts between two calls of `events(now:)`.
    static let outboxLimit = 100_000

    let settings: Settings
    let state = Mutex(State())
    /// Connections the transport accepted, for the stats (set by whoever runs the server).
    let connectionsOpened: @Sendable () -> Int
    /// Shared with the callout delivery, for the stats.
    let calloutCounters: CalloutCounters

    public init(
        settings: Settings,
        meters: [MeterKey],
        now: Double,
        calloutCounters: CalloutCounters = CalloutCounters(),
        connectionsOpened: @escaping @Sendable () -> Int = { 0 }
    ) {
        self.settings = settings
        self.connectionsOpened = connectionsOpened
        self.calloutCounters = calloutCounters
        state.withLock { state in
            for key in meters {
                state.meters[key] = newMeter(key, now: now)
            }
        }
    }

    func newMeter(_ key: MeterKey, now: Double) -> SimulatedMeter {
        SimulatedMeter(seed: StableHash.of(key), now: now, step: settings.step, meterId: key.meterId)
    }

    public func respond(to request: HTTPRequest, now: Double) -> Answer {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map(String.init)
        if parts.first == "_control" {
            return Answer(response: control(request, Array(parts.dropFirst()), now: now), delay: 0)
        }
        if request.path == "/oauth/token" { return token(request, now: now) }
        if parts.count == 4, parts[0] == "meters", parts[3] == "runStatus" {
            return runStatus(request, id: parts[1], version: parts[2], now: now)
        }
        if parts.count == 3, parts[0] == "meters", parts[2] == "summary" {
            return summary(request, id: parts[1], now: now)
        }
        return Answer(
            response: .json(
                404,
                #"{"success":false,"reasons":[{"code":"ObjectNotFound","message":"no such resource"}]}"#
            ),
            delay: 0
        )
    }

    private func token(_ request: HTTPRequest, now: Double) -> Answer {
        let fault = state.withLock { state -> InjectedFault? in
            state.tokenRequests += 1
            return Self.take(&state.tokenFault) ?? Self.take(&state.allFault)
        }
        if let fault { return Self.answer(fault) }
        guard request.method == "POST" else {
            return Answer(response: .json(405, #"{"error":"method_not_allowed"}"#), delay: 0)
        }
        let form = Self.form(request.body)
        guard form["grant_type"] == "client_credentials" else {
            return Answer(response: .json(400, #"{"error":"unsupported_grant_type"}"#), delay: 0)
        }
        guard form["client_id"] == settings.clientId, form["client_secret"] == settings.clientSecret else {
            return Answer(
                response: .json(401, #"{"error":"invalid_client","error_description":"Bad credentials"}"#),
                delay: 0
            )
        }
        let token = state.withLock { state -> String in
            state.sequence &+= 1
            let token = "sim-\(state.sequence)-\(UInt64(now * 1000))"
            state.tokens[token] = now + settings.tokenLifetime
            return token
        }
        let body = """
            {"access_token":"\(token)","token_type":"bearer","expires_in":\(Int(settings.tokenLifetime)),\
            "scope":"user.simulator entity.00000000-0000-0000-0000-000000000000 service.mediation.read tenant.1",\
            "jti":"\(token)"}
            """
        return Answer(response: .json(200, body), delay: 0)
    }

    func bearerToken(_ request: HTTPRequest) -> String? {
        request.header("Authorization").flatMap { $0.hasPrefix("Bearer ") ? String($0.dropFirst(7)) : nil }
    }

    static let unauthorized = InjectedFault(
        status: 401,
        body: #"{"success":false,"error":{"code":"70002006","message":"UNAUTHORIZED"}}"#,
        remaining: nil,
        retryAfter: nil,
        delay: 0
    )

    private func runStatus(_ request: HTTPRequest, id: String, version rawVersion: String, now: Double) -> Answer {
        var headers = [("Zuora-Request-Id", requestId())]
        if let track = request.header("Zuora-Track-Id") { headers.append(("Zuora-Track-Id", track)) }
        guard let version = PathEncoding.decode(Substring(rawVersion)), let meterId = Int64(id) else {
            let body = #"{"success":false,"errors":[{"code":"INVALID_VALUE","message":"meterId must be an integer"}]}"#
            return Answer(response: .json(400, body, headers: headers), delay: 0)
        }
        let key = MeterKey(meterId: meterId, version: version)
        let token = bearerToken(request)
        let outcome = state.withLock { state -> Result<RunStatus, InjectedFault> in
            state.runStatusRequests += 1
            state.requestsPerMeter[key, default: 0] += 1
            if let fault = Self.take(&state.allFault) ?? Self.take(&state.meterFaults[key]) { return .failure(fault) }
            guard let token, let expiry = state.tokens[token], now < expiry else { return .failure(Self.unauthorized) }
            guard state.meters[key] != nil else {
                let known = state.meters.keys.contains { $0.meterId == meterId }
                let (code, name) =
                    known ? ("70002104", "METER_VERSION_NOT_EXISTING") : ("70002103", "METER_NOT_EXISTING")
                return .failure(
                    InjectedFault(
                        status: 404,
                        body: #"{"success":false,"error":{"code":"\#(code)","message":"\#(name)"},"data":{}}"#,
                        remaining: nil,
                        retryAfter: nil,
                        delay: 0
                    )
                )
            }
            state.advance(key, to: now, settings: settings)
            return .success(state.meters[key]?.status ?? RunStatus(code: 1))
        }
        switch outcome {
        case .failure(let fault):
            var answer = Self.answer(fault)
            answer.response.headers += headers
            return answer
        case .success(let status):
            let description = status.isKnown ? status.name : "UNKNOWN"
            let body =
                #"{"success":true,"data":{"runStatus":\#(status.code),"runStatusDescription":"\#(description)"}}"#
            return Answer(response: Self.compressIfAsked(.json(200, body, headers: headers), request), delay: 0)
        }
    }

    /// Zuora compresses bodies over 1,000 bytes when the client accepts gzip.
    static func compressIfAsked(_ response: HTTPResponse, _ request: HTTPRequest) -> HTTPResponse {
        guard response.body.count > 1000, request.header("Accept-Encoding")?.contains("gzip") == true else {
            return response
        }
        var compressed = response
        compressed.body = Gzip.compress(response.body)
        compressed.headers.append(("Content-Encoding", "gzip"))
        return compressed
    }

    static func answer(_ fault: InjectedFault) -> Answer {
        var response = HTTPResponse.json(fault.status, fault.body)
        if let retryAfter = fault.retryAfter { response.headers.append(("Retry-After", String(retryAfter))) }
        return Answer(response: response, delay: fault.delay, breakoff: fault.breakoff)
    }

    /// Returns the fault and counts one use of it, clearing it when used up.
    static func take(_ fault: inout InjectedFault?) -> InjectedFault? {
        guard let current = fault else { return nil }
        if current.probability < 1, Double.random(in: 0..<1) >= current.probability { return nil }
        if let remaining = current.remaining {
            var next = current
            next.remaining = remaining - 1
            fault = remaining <= 1 ? nil : next
        }
        return current
    }

    func requestId() -> String {
        let sequence = state.withLock { state -> UInt64 in
            state.sequence &+= 1
            return state.sequence
        }
        return "sim-request-\(sequence)"
    }

    static func form(_ body: [UInt8]) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in String(decoding: body, as: UTF8.self).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let name = PathEncoding.decode(parts[0], plusAsSpace: true),
                let value = PathEncoding.decode(parts[1], plusAsSpace: true)
            else { continue }
            fields[name] = value
        }
        return fields
    }
}
