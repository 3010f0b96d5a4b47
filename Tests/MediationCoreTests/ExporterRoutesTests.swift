import ExpositionParser
import Foundation
import Synchronization
import Testing

@testable import MediationCore

/// A Boolean the test flips while a route reads it.
final class Flag: Sendable {
    private let state = Mutex(false)

    var value: Bool {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}

/// The exporter's endpoints, answered without sockets.
struct ExporterRoutesTests {
    static let dynamic =
        "# HELP zuora_exporter_build_info Build.\n# TYPE zuora_exporter_build_info gauge\n"
        + "zuora_exporter_build_info{version=\"9.9.9\"} 1\n"

    let hub = StatusHub()
    let ready = Flag()

    init() {
        hub.configure([spec(101, name: "Usage ingestion"), spec(202, "1.0")])
        hub.record(ok(key(101), 5, at: 1_700_000_000))
    }

    func routes() -> ExporterRoutes {
        ExporterRoutes(
            settings: .init(telemetryPath: "/metrics", version: "1.2.3"),
            hub: hub,
            dynamicMetrics: { Array(Self.dynamic.utf8) },
            isReady: { [ready] in ready.value }
        )
    }

    func get(_ path: String, method: String = "GET", headers: [String: String] = [:]) -> HTTPResponse {
        routes().handle(HTTPRequest(method: method, path: path, headers: headers))
    }

    @Test func metricsAreServedAsTextExposition() {
        let response = get("/metrics")
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        #expect(response.header("Content-Encoding") == nil)
        let body = text(response.body)
        #expect(body.hasSuffix(Self.dynamic), "the per-scrape part follows the per-meter part")
        let parsed = ParsedExposition(body)
        #expect(parsed.problems.isEmpty)
        #expect(parsed.value("zuora_meter_run_status", meterLabels(key(101))) == 5)
        #expect(parsed.value("zuora_exporter_build_info", ["version": "9.9.9"]) == 1)
        #expect(parsed.value("zuora_meter_info", meterLabels(key(202, "1.0"), ["name": ""])) == 1)
    }

    /// The last case: a client that accepts nothing but gzip (RFC 9110 12.5.3: an explicit coding wins over `*`).
    @Test(arguments: [
        "gzip", "GZIP", "deflate, gzip", "gzip;q=0.5, identity", "br;q=1.0, gzip;q=0.8", "*", "*;q=0, gzip",
    ])
    func metricsAreCompressedWhenTheClientAsks(acceptEncoding: String) throws {
        let plain = get("/metrics").body
        let response = get("/metrics", headers: ["Accept-Encoding": acceptEncoding])
        #expect(response.status == 200)
        #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
        try #require(response.header("Content-Encoding") == "gzip")
        #expect(try Gzip.decompress(response.body) == plain)
    }

    @Test(arguments: ["identity", "gzip;q=0", "deflate", "br", "gzip; q=0.0"])
    func metricsStayPlainOtherwise(acceptEncoding: String) {
        let response = get("/metrics", headers: ["accept-encoding": acceptEncoding])
        #expect(response.header("Content-Encoding") == nil)
        #expect(text(response.body).contains("zuora_meter_run_status{"))
    }

    @Test func aStatusChangeIsInTheNextScrapeInBothEncodings() throws {
        _ = get("/metrics")
        _ = get("/metrics", headers: ["Accept-Encoding": "gzip"])
        hub.record(ok(key(101), 7, at: 1_700_000_060))
        let plain = ParsedExposition(text(get("/metrics").body))
        #expect(plain.value("zuora_meter_run_status", meterLabels(key(101))) == 7)
        let zipped = try Gzip.decompress(get("/metrics", headers: ["Accept-Encoding": "gzip"]).body)
        #expect(ParsedExposition(text(zipped)).value("zuora_meter_run_status", meterLabels(key(101))) == 7)
    }

    @Test func headIsAllowedAndOtherMethodsAreNot() {
        #expect(get("/metrics", method: "HEAD").status == 200)
        for method in ["POST", "PUT", "DELETE"] {
            let response = get("/metrics", method: method)
            #expect(response.status == 405, "\(method)")
            #expect(response.header("Allow")?.contains("GET") == true)
        }
        #expect(get("/", method: "POST").status == 405)
    }

    @Test func readinessFollowsThePoller() {
        let before = get("/-/ready")
        #expect(before.status == 503)
        ready.value = true
        #expect(get("/-/ready").status == 200)
        ready.value = false
        #expect(get("/-/ready").status == 503)
    }

    @Test func healthAndUnknownPaths() {
        #expect(get("/-/healthy").status == 200)
        for path in ["/nope", "/metrics/", "/metricsx", "/-/", "/-/readyz"] {
            let response = get(path)
            #expect(response.status == 404, "\(path)")
            #expect(text(response.body).contains("/metrics"), "the 404 points at the metrics")
        }
    }

    @Test func anotherTelemetryPathMovesTheMetrics() {
        let routes = ExporterRoutes(
            settings: .init(telemetryPath: "/zuora/metrics", version: "1"),
            hub: hub,
            dynamicMetrics: { [] },
            isReady: { true }
        )
        #expect(routes.handle(HTTPRequest(method: "GET", path: "/zuora/metrics")).status == 200)
        #expect(routes.handle(HTTPRequest(method: "GET", path: "/metrics")).status == 404)
    }

    @Test func theLandingPageListsMetersWithTheirStatus() {
        hub.record(failed(key(202, "1.0"), .notFound, "METER_NOT_EXISTING", at: 1_700_000_010))
        let response = get("/")
        #expect(response.status == 200)
        #expect(response.header("Content-Type")?.hasPrefix("text/html") == true)
        let page = text(response.body)
        #expect(page.contains("1.2.3"))
        #expect(page.contains("href=\"/metrics\""))
        #expect(page.contains("Usage ingestion"))
        #expect(page.contains("RUNNING (5)"))
        #expect(page.contains("2023-11-14 22:13:20Z"), "status since, in UTC")
        #expect(page.contains("not observed yet"), "meter 202 has no status")
        #expect(page.contains("METER_NOT_EXISTING"), "the last error is shown")
        #expect(page.contains("<td>101</td>") && page.contains("<td>202</td>"))
        let first = page.range(of: "<td>101</td>")
        let second = page.range(of: "<td>202</td>")
        if let first, let second { #expect(first.lowerBound < second.lowerBound, "rows in meter order") }
    }

    @Test func theLandingPageEscapesHTML() {
        let attack = "<script>alert('x')</script>"
        hub.configure([spec(101, name: attack), spec(303, "<b>v</b>")])
        hub.record(failed(key(101), .decode, "<img src=x onerror=alert(1)>", at: 1_700_000_000))
        let page = text(get("/").body)
        #expect(!page.contains("<script>"))
        #expect(!page.contains("<img"))
        #expect(!page.contains("<b>v</b>"))
        #expect(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"))
        #expect(page.contains("&lt;b&gt;v&lt;/b&gt;"))
    }

    @Test func escapingHelpers() {
        #expect(TextEscaping.html(#"a<b>&"c'"#) == "a&lt;b&gt;&amp;&quot;c&#39;")
        #expect(TextEscaping.json("a\"b\\c\nd\te\u{1}") == #""a\"b\\c\nd\te\u0001""#)
    }
}
