#if canImport(Glibc)
import Glibc
#endif

/// The `/` page: what this is, where the metrics are, and each meter-version's status at a glance.
public enum LandingPage {
    /// Rows beyond this are summarised: the page must stay small with fleets of thousands.
    static let maxRows = 500

    public static func render(version: String, telemetryPath: String, meters: [MeterKey: MeterState]) -> String {
        let path = TextEscaping.html(telemetryPath)
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>Zuora Mediation Exporter</title>
            <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
            td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}.bad{color:#b00}</style></head>
            <body><h1>Zuora Mediation Exporter</h1>
            <p>Version \(TextEscaping.html(version)). <a href="\(path)">Metrics</a> ·
            <a href="/-/healthy">Health</a> · <a href="/-/ready">Readiness</a></p>
            <h2>Meters (\(meters.count))</h2>
            <table><tr><th>Meter</th><th>Version</th><th>Name</th><th>Status</th><th>Since</th>\
            <th>Last poll</th><th>Last error</th></tr>

            """
        for (key, state) in meters.sorted(by: { $0.key < $1.key }).prefix(maxRows) {
            let status = state.status.map { "\($0.name) (\($0.code))" } ?? "not observed yet"
            let poll: String
            switch state.lastPollSucceeded {
            case nil: poll = "not polled yet"
            case true?: poll = "ok at \(timestamp(state.lastPollAt))"
            case false?: poll = "<span class=\"bad\">failed at \(timestamp(state.lastPollAt))</span>"
            }
            let cells = [
                String(key.meterId), TextEscaping.html(key.version), TextEscaping.html(state.displayName),
                TextEscaping.html(status), timestamp(state.statusSince), poll,
                TextEscaping.html(state.lastError ?? ""),
            ]
            html += "<tr><td>" + cells.joined(separator: "</td><td>") + "</td></tr>\n"
        }
        html += "</table>\n"
        if meters.count > maxRows {
            html += "<p>\(meters.count - maxRows) more meter-versions are not listed here; see \(path).</p>\n"
        }
        return html + "</body></html>\n"
    }

    /// UTC, to the second: `2026-11-23 10:15:00Z`.
    static func timestamp(_ seconds: Double?) -> String {
        guard let seconds else { return "" }
        return isoTimestamp(seconds, separator: " ")
    }

    /// RFC 3339 in UTC with milliseconds: `2026-11-23T10:15:00.123Z` (or another date-time separator).
    public static func isoTimestamp(_ seconds: Double, separator: String = "T") -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let millis = Int((seconds - Double(time)) * 1000)
        let fraction = separator == "T" ? "." + String(String(1000 + millis).dropFirst()) : ""
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))\(separator)"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))\(fraction)Z"
    }
}
