import Foundation
import Testing

/// Basic authentication as an attacker probes it: response times must not tell which users exist.
@Suite(.serialized)
struct AuthHardeningTests {
    /// Status and curl's own `time_total` (the request alone, not the process start).
    func timedRequest(_ url: String, user: String, password: String) throws -> (status: Int, seconds: Double) {
        let result = try runTool(
            "/usr/bin/curl",
            [
                "-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "--max-time", "10", "-u",
                "\(user):\(password)", url,
            ]
        )
        let fields = result.output.split(separator: " ")
        return (Int(fields.first ?? "") ?? 0, Double(fields.last ?? "") ?? 0)
    }

    @Test func anUnknownUserAndAWrongPasswordTakeTheSameTime() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zme-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (_, _, hash) = try WebServerTests.material(in: directory)
        let webConfig = directory.appendingPathComponent("web.yml")
        try "basic_auth_users:\n  prometheus: '\(hash)'\n".write(to: webConfig, atomically: true, encoding: .utf8)
        let stack = try Stack(startExporter: false)
        try stack.launchExporter(arguments: ["--web.config.file", webConfig.path])
        let url = "\(stack.exporterURL)/metrics"
        #expect(eventually { http("GET", url).status == 401 }, "\(stack.exporter?.log ?? "")")

        var unknown: [Double] = []
        var wrong: [Double] = []
        for round in 0..<9 {
            let a = try timedRequest(url, user: "nobody-\(round)", password: "guess-\(round)")
            let b = try timedRequest(url, user: "prometheus", password: "guess-\(round)")
            #expect(a.status == 401 && b.status == 401)
            unknown.append(a.seconds)
            wrong.append(b.seconds)
        }
        let medianUnknown = unknown.sorted()[4]
        let medianWrong = wrong.sorted()[4]
        let ratio = medianUnknown / medianWrong
        #expect(
            ratio > 0.8 && ratio < 1.2,
            "unknown user \(medianUnknown) s, wrong password \(medianWrong) s: indistinguishable to 20 %"
        )
        let nul = http(
            "GET",
            url,
            headers: [
                "Authorization: Basic " + Data("prometheus:\(WebServerTests.password)\u{0}x".utf8).base64EncodedString()
            ]
        )
        #expect(nul.status == 401, "a password is not cut at a NUL byte")
        #expect(http("GET", url, extra: ["-u", "prometheus:\(WebServerTests.password)"]).status == 200)
    }

    @Test func reloadOverHTTPNeedsTheLifecycleFlag() throws {
        let stack = try Stack()
        #expect(eventually { http("GET", "\(stack.exporterURL)/-/healthy").status == 200 })
        let refused = http("POST", "\(stack.exporterURL)/-/reload")
        #expect(refused.status == 403 && refused.body.contains("--web.enable-lifecycle"), "\(refused.body)")
    }
}
