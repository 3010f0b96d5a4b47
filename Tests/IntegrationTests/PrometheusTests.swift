import Foundation
import Testing

/// A real Prometheus server (Debian's package) scrapes the exporter; the series arrive in its TSDB.
@Suite(.serialized)
struct PrometheusTests {
    @Test func aRealPrometheusScrapesTheSeries() throws {
        let stack = try Stack()
        stack.setStatus(101, "5")
        let (prometheus, port, directory) = try startPrometheus(scraping: stack.exporterPort)
        defer {
            prometheus.stop()
            try? FileManager.default.removeItem(at: directory)
        }
        let query = "http://127.0.0.1:\(port)/api/v1/query?query="
        let arrived = eventually(timeout: 30) {
            let answer = http("GET", query + "zuora_meter_run_status%7Bjob%3D%22zuora-mediation%22%7D").body
            return answer.contains(#""meter_id":"101""#) && answer.contains(#""meter_id":"102""#)
        }
        #expect(arrived, "Prometheus has the per-meter series: \(prometheus.log.suffix(2000))")
        let up = http("GET", query + "up%7Bjob%3D%22zuora-mediation%22%7D").body
        #expect(up.contains(#""value":["#) && up.contains(#","1"]"#), "the scrape target is up: \(up)")
        let state = http("GET", query + "zuora_meter_run_state%7Bmeter_id%3D%22101%22%2Cstate%3D%22RUNNING%22%7D").body
        #expect(state.contains(#","1"]"#), "the state set reached Prometheus: \(state)")
    }
}
