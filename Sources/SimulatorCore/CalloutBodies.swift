import Foundation
public import MediationCore

#if canImport(Glibc)
import Glibc
#endif

/// The JSON bodies of the simulator's callouts: exactly the templates the exporter's README tells operators
/// to configure in Zuora (every value a string, as the quoted merge fields give them, counts excepted).
public enum CalloutBodies {
    /// "Meter Session Status Change": meterId, meterName, sessionId, runType, status, previousStatus,
    /// startTime, endTime (empty until the session ends), version. Nil for a status nobody documented (a
    /// code pinned through the control API): Zuora would name it, the simulator cannot.
    public static func statusChange(_ key: MeterKey, _ change: StatusChange) -> [UInt8]? {
        guard change.status.isKnown else { return nil }
        let fields: [(String, String)] = [
            ("meterId", String(key.meterId)),
            ("meterName", meterName(key)),
            ("sessionId", change.sessionId),
            ("runType", "NORMAL"),
            ("status", change.status.name),
            ("previousStatus", change.previous.isKnown ? change.previous.name : ""),
            ("startTime", timestamp(change.start)),
            ("endTime", timestamp(change.end)),
            ("version", key.version),
        ]
        return Array(("{" + fields.map { "\"\($0.0)\":\(TextEscaping.json($0.1))" }.joined(separator: ",") + "}").utf8)
    }

    /// "Meter Session Periodic Status Update": the status change's identification, the operator, and its
    /// outputCount, errorCount, totalCount (numbers) and errorPercentage (of the total, two decimals).
    public static func periodic(_ key: MeterKey, _ snapshot: PeriodicSnapshot) -> [UInt8] {
        let total = snapshot.output + snapshot.errors
        let percentage = total == 0 ? 0 : (Double(snapshot.errors) * 10_000 / Double(total)).rounded() / 100
        let texts: [(String, String)] = [
            ("meterId", String(key.meterId)),
            ("version", key.version),
            ("meterName", meterName(key)),
            ("operatorId", snapshot.operatorId),
            ("sessionId", snapshot.sessionId),
            ("runType", "NORMAL"),
            ("startTime", timestamp(snapshot.start)),
            ("endTime", ""),
        ]
        let fields =
            texts.map { "\"\($0.0)\":\(TextEscaping.json($0.1))" }
            + [
                #""outputCount":\#(snapshot.output)"#, #""errorCount":\#(snapshot.errors)"#,
                #""totalCount":\#(total)"#, #""errorPercentage":\#(percentage)"#,
            ]
        return Array(("{" + fields.joined(separator: ",") + "}").utf8)
    }

    /// Queues each event's callout with the delivery of its kind (none: not sent). Each kind has its own
    /// queue, so that a burst of periodic snapshots (one per operator) never holds up status changes.
    public static func enqueue(
        _ events: [SimulatorEvent],
        settings: CalloutSettings,
        status: CalloutDelivery?,
        periodic: CalloutDelivery?
    ) {
        for event in events {
            switch event {
            case .statusChange(let key, let change):
                if let url = settings.statusURL, let status, let body = statusChange(key, change) {
                    status.enqueue(url: url, body: body)
                }
            case .periodic(let key, let snapshot):
                if let url = settings.periodicURL, let periodic {
                    periodic.enqueue(url: url, body: self.periodic(key, snapshot))
                }
            }
        }
    }

    static func meterName(_ key: MeterKey) -> String { "Simulated meter \(key.meterId)" }

    /// ISO 8601 in UTC to the second, as Zuora's merge fields show times; empty for none.
    static func timestamp(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite, abs(seconds) < 1e11 else { return "" }
        var time = time_t(seconds.rounded(.down))
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
    }
}
