// Fuzz target: the whole request path in-process, as the transport drives it: the web configuration's
// Basic authentication (BasicAuthGate), the routes (ExporterRoutes), the callout receiver (WebhookReceiver
// with Basic credentials and an HMAC signature), signature and credential parsing. Each handler's
// `admit` decides from the head, then `handle` gets the whole request (`respond(to:)`).
//
// Input: first line the method, second the path (with an optional query), then `name: value` header
// lines up to an empty line, then the body. The first byte's low bit picks the handler with or without
// the web configuration's Basic authentication.
import FuzzSupport
import Logging
import MediationCore

let webhookPath = "/webhooks/meter-session-status"
let logger = Logger(label: "fuzz") { _ in SwiftLogNoOpLogHandler() }
let hub: StatusHub = {
    let hub = StatusHub()
    hub.configure([MeterSpec(key: MeterKey(meterId: 101, version: "0.0.1"), name: "Usage")])
    return hub
}()
let receiver: WebhookReceiver = {
    var config = WebhookConfig()
    config.basicAuth = .init(username: "zuora", passwordFile: "/unused")
    config.hmac = .init(secretFile: "/unused")
    config.maxDynamicMeters = 20
    return WebhookReceiver(
        config: config,
        secrets: WebhookSecrets(basicPassword: Array("pw".utf8), hmacKey: Array("fuzz-key".utf8)),
        hub: hub,
        metrics: ExporterMetrics(version: "fuzz", revision: "fuzz"),
        logger: logger
    )
}()
let routes = ExporterRoutes(
    settings: .init(telemetryPath: "/metrics", version: "fuzz", lifecycleEnabled: false),
    hub: hub,
    dynamicMetrics: { [] },
    isReady: { true },
    extraRoute: { $0 == webhookPath ? receiver : nil },
    reload: { .success("reloaded") }
)
/// bcrypt of `fuzz-pass` at the lowest cost, so that the fuzzer runs many inputs a second.
let gated = BasicAuthGate(
    users: ["prometheus": "$2b$04$ErhCz6aUdSCr/CVm1zwIIODMelV.Z1SN3GbHZC56SIW0yxE3QOxU."],
    inner: routes
)

/// Splits the input as documented above.
func request(from input: [UInt8]) -> HTTPRequest {
    var lines: [[UInt8]] = []
    var index = 0
    var line: [UInt8] = []
    var body: [UInt8] = []
    while index < input.count {
        let byte = input[index]
        index += 1
        if byte == 10 {
            if lines.count >= 2, line.isEmpty {
                body = Array(input[index...])
                break
            }
            lines.append(line)
            line = []
        } else {
            line.append(byte)
        }
    }
    if body.isEmpty, !line.isEmpty { lines.append(line) }
    let method = lines.first.map { String(decoding: $0, as: UTF8.self) } ?? "GET"
    let target = lines.count > 1 ? String(decoding: lines[1], as: UTF8.self) : "/"
    let pieces = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
    var query: [String: String] = [:]
    if pieces.count == 2 {
        for pair in pieces[1].split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = PathEncoding.decode(kv[0], plusAsSpace: true) else { continue }
            query[name] = kv.count > 1 ? PathEncoding.decode(kv[1], plusAsSpace: true) : ""
        }
    }
    var headers: [String: String] = [:]
    for header in lines.dropFirst(2) {
        guard let colon = header.firstIndex(of: 58) else { continue }
        let name = String(decoding: header[..<colon], as: UTF8.self)
        var value = header[(colon + 1)...]
        while value.first == 32 { value = value.dropFirst() }
        headers[name] = String(decoding: value, as: UTF8.self)
    }
    return HTTPRequest(method: method, path: String(pieces[0]), query: query, headers: headers, body: body)
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = fuzzBytes(data, size)
    let withGate = (input.first ?? 0) & 1 == 1
    let request = request(from: input)
    let handler: any HTTPHandler = withGate ? gated : routes
    let response = handler.respond(to: request)
    if !(100..<600).contains(response.status) { violated("status \(response.status)", input: input) }
    if response.status == 200, withGate {
        // Nothing but the right credentials opens anything behind the gate.
        guard let given = Signatures.basicCredentials(request.header("Authorization")),
            given.user == Array("prometheus".utf8), given.password == Array("fuzz-pass".utf8)
        else { violated("served \(request.path) without the right credentials", input: input) }
    }
    if request.path == webhookPath, response.status == 200 {
        guard let given = Signatures.basicCredentials(request.header("Authorization")),
            given.user == Array("zuora".utf8), given.password == Array("pw".utf8)
        else { violated("a callout passed without the receiver's credentials", input: input) }
    }
    if request.path == "/-/reload", response.status == 200 {
        violated("reload without the lifecycle flag", input: input)
    }
    _ = response.body.count
    return 0
}
