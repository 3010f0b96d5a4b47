/// The per-meter-version metric families: the contract dashboards and alerts rely on.
public struct MeterFamily: Sendable {
    public let name: String
    public let type: String
    public let help: String
    /// The samples of one meter-version in this family, as exposition lines.
    let render: @Sendable (_ key: MeterKey, _ state: MeterState, _ out: inout [UInt8]) -> Void

    public var header: [UInt8] { Exposition.header(name: name, type: type, help: help) }
}

extension MeterFamily {
    private static let pollingNote =
        "Observed by periodic polling of runStatus (and callouts when enabled); "
        + "changes between two observations can be missed."

    private static func labels(_ key: MeterKey, _ extra: (String, String)...) -> [(String, String)] {
        [("meter_id", String(key.meterId)), ("version", key.version)] + extra
    }

    /// In exposition order. A meter-version with no value for a family renders nothing in it.
    public static let all: [MeterFamily] = [
        MeterFamily(
            name: "zuora_meter_info",
            type: "gauge",
            help: "Watched meter-versions (configured, or reported by callouts); always 1. name is the configured "
                + "display name, else the meterName of the last callout."
        ) { key, state, out in
            Exposition.appendSample(
                "zuora_meter_info",
                labels: labels(key, ("name", state.displayName)),
                value: 1,
                to: &out
            )
        },
        MeterFamily(
            name: "zuora_meter_run_status",
            type: "gauge",
            help: "Current run-status code as Zuora returned it (1-13, or any other integer). \(pollingNote)"
        ) { key, state, out in
            guard let status = state.status else { return }
            Exposition.appendSample("zuora_meter_run_status", labels: labels(key), value: Double(status.code), to: &out)
        },
        MeterFamily(
            name: "zuora_meter_run_state",
            type: "gauge",
            help: "Current run status as a state set: 1 for the current status name (UNKNOWN for undocumented "
                + "codes), 0 for the others. \(pollingNote)"
        ) { key, state, out in
            guard let status = state.status else { return }
            for name in RunStatus.knownNames + [RunStatus.unknownName] {
                Exposition.appendSample(
                    "zuora_meter_run_state",
                    labels: labels(key, ("state", name)),
                    value: status.name == name ? 1 : 0,
                    to: &out
                )
            }
        },
        MeterFamily(
            name: "zuora_meter_run_status_transitions_total",
            type: "counter",
            help: "Observed run-status changes by from and to status name. \(pollingNote)"
        ) { key, state, out in
            for (transition, count) in state.transitions.sorted(by: {
                ($0.key.from, $0.key.to) < ($1.key.from, $1.key.to)
            }) {
                Exposition.appendSample(
                    "zuora_meter_run_status_transitions_total",
                    labels: labels(key, ("from", transition.from), ("to", transition.to)),
                    value: Double(count),
                    to: &out
                )
            }
        },
        MeterFamily(
            name: "zuora_meter_run_failures_total",
            type: "counter",
            help: "Observed entries into FAILED or TESTING_FAILED. \(pollingNote)"
        ) { key, state, out in
            Exposition.appendSample(
                "zuora_meter_run_failures_total",
                labels: labels(key),
                value: Double(state.failures),
                to: &out
            )
        },
        MeterFamily(
            name: "zuora_meter_run_status_last_change_timestamp_seconds",
            type: "gauge",
            help: "When the current run status was first observed, in seconds since the epoch. \(pollingNote)"
        ) { key, state, out in
            guard let since = state.statusSince else { return }
            Exposition.appendSample(
                "zuora_meter_run_status_last_change_timestamp_seconds",
                labels: labels(key),
                value: since,
                to: &out
            )
        },
        MeterFamily(
            name: "zuora_meter_poll_success",
            type: "gauge",
            help: "1 if the last poll of this meter-version's run status succeeded, else 0."
        ) { key, state, out in
            Exposition.appendSample(
                "zuora_meter_poll_success",
                labels: labels(key),
                value: state.lastPollSucceeded == true ? 1 : 0,
                to: &out
            )
        },
        MeterFamily(
            name: "zuora_meter_last_poll_success_timestamp_seconds",
            type: "gauge",
            help: "Time of the last successful poll of this meter-version, in seconds since the epoch."
        ) { key, state, out in
            guard let time = state.lastPollSuccessAt else { return }
            Exposition.appendSample(
                "zuora_meter_last_poll_success_timestamp_seconds",
                labels: labels(key),
                value: time,
                to: &out
            )
        },
        MeterFamily(
            name: "zuora_meter_poll_errors_total",
            type: "counter",
            help: "Failed polls of this meter-version by reason (auth, not_found, bad_request, rate_limited, "
                + "server_error, timeout, network, decode)."
        ) { key, state, out in
            for reason in PollErrorReason.allCases {
                guard let count = state.pollErrors[reason] else { continue }
                Exposition.appendSample(
                    "zuora_meter_poll_errors_total",
                    labels: labels(key, ("reason", reason.rawValue)),
                    value: Double(count),
                    to: &out
                )
            }
        },
        MeterFamily(
            name: "zuora_meter_last_session_duration_seconds",
            type: "gauge",
            help: "Duration of the last meter session that ended, by run type, from session status callouts."
        ) { key, state, out in
            for (runType, seconds) in state.lastSessionDuration.sorted(by: { $0.key < $1.key }) {
                Exposition.appendSample(
                    "zuora_meter_last_session_duration_seconds",
                    labels: labels(key, ("run_type", runType)),
                    value: seconds,
                    to: &out
                )
            }
        },
    ]
}
