/// The per-meter-version metric families: the contract dashboards and alerts rely on.
public struct MeterFamily: Sendable {
    public let name: String
    public let type: String
    public let help: String
    /// True when the samples depend on nothing but the poll-health fields (`MeterState.pollHealth`):
    /// then a poll that changed only those re-renders this family alone.
    var readsOnlyPollHealth = false
    /// The samples of one meter-version in this family, as exposition lines.
    /// `labels` is the meter-version's `meter_id` and `version` pair, escaped once for all its samples.
    let render: @Sendable (_ labels: [UInt8], _ state: MeterState, _ out: inout [UInt8]) -> Void

    public var header: [UInt8] { Exposition.header(name: name, type: type, help: help) }
}

extension MeterFamily {
    private static let pollingNote =
        "Observed by periodic polling of runStatus (and callouts when enabled); "
        + "changes between two observations can be missed."

    /// `meter_id="…",version="…"`: the labels every sample of a meter-version starts with.
    static func labels(of key: MeterKey) -> [UInt8] {
        var out = Array(#"meter_id=""#.utf8)
        out.append(contentsOf: String(key.meterId).utf8)
        out.append(contentsOf: #"",version=""#.utf8)
        Exposition.appendEscaped(key.version, to: &out)
        out.append(UInt8(ascii: "\""))
        return out
    }

    /// In exposition order. A meter-version with no value for a family renders nothing in it.
    public static let all: [MeterFamily] = status + records

    /// The families of run status and polling.
    static let status: [MeterFamily] = [
        MeterFamily(
            name: "zuora_meter_info",
            type: "gauge",
            help: "Watched meter-versions (configured, or reported by callouts); always 1. name is the configured "
                + "display name, else the meterName of the last callout."
        ) { labels, state, out in
            Exposition.appendSample(
                "zuora_meter_info",
                meterLabels: labels,
                ("name", state.displayName),
                value: 1,
                to: &out
            )
        },
        MeterFamily(
            name: "zuora_meter_run_status",
            type: "gauge",
            help: "Current run-status code as Zuora returned it (1-13, or any other integer). \(pollingNote)"
        ) { labels, state, out in
            guard let status = state.status else { return }
            Exposition.appendSample("zuora_meter_run_status", meterLabels: labels, value: Double(status.code), to: &out)
        },
        MeterFamily(
            name: "zuora_meter_run_state",
            type: "gauge",
            help: "Current run status as a state set: 1 for the current status name (UNKNOWN for undocumented "
                + "codes), 0 for the others. \(pollingNote)"
        ) { labels, state, out in
            guard let status = state.status else { return }
            for name in RunStatus.knownNames + [RunStatus.unknownName] {
                Exposition.appendSample(
                    "zuora_meter_run_state",
                    meterLabels: labels,
                    ("state", name),
                    value: status.name == name ? 1 : 0,
                    to: &out
                )
            }
        },
        MeterFamily(
            name: "zuora_meter_run_status_transitions_total",
            type: "counter",
            help: "Observed run-status changes by from and to status name. \(pollingNote)"
        ) { labels, state, out in
            for (transition, count) in state.transitions.sorted(by: {
                ($0.key.from, $0.key.to) < ($1.key.from, $1.key.to)
            }) {
                Exposition.appendSample(
                    "zuora_meter_run_status_transitions_total",
                    meterLabels: labels,
                    ("from", transition.from),
                    ("to", transition.to),
                    value: Double(count),
                    to: &out
                )
            }
        },
        MeterFamily(
            name: "zuora_meter_run_failures_total",
            type: "counter",
            help: "Observed entries into FAILED or TESTING_FAILED. \(pollingNote)"
        ) { labels, state, out in
            Exposition.appendSample(
                "zuora_meter_run_failures_total",
                meterLabels: labels,
                value: Double(state.failures),
                to: &out
            )
        },
        MeterFamily(
            name: "zuora_meter_run_status_last_change_timestamp_seconds",
            type: "gauge",
            help: "When the current run status was first observed, in seconds since the epoch. \(pollingNote)"
        ) { labels, state, out in
            guard let since = state.statusSince else { return }
            Exposition.appendSample(
                "zuora_meter_run_status_last_change_timestamp_seconds",
                meterLabels: labels,
                value: since,
                to: &out
            )
        },
        MeterFamily(
            name: "zuora_meter_poll_success",
            type: "gauge",
            help: "1 if the last poll of this meter-version's run status succeeded, else 0.",
            readsOnlyPollHealth: true
        ) { labels, state, out in
            Exposition.appendSample(
                "zuora_meter_poll_success",
                meterLabels: labels,
                value: state.lastPollSucceeded == true ? 1 : 0,
                to: &out
            )
        },
        MeterFamily(
            name: "zuora_meter_last_poll_success_timestamp_seconds",
            type: "gauge",
            help: "Time of the last successful poll of this meter-version, in seconds since the epoch.",
            readsOnlyPollHealth: true
        ) { labels, state, out in
            guard let time = state.lastPollSuccessAt else { return }
            Exposition.appendSample(
                "zuora_meter_last_poll_success_timestamp_seconds",
                meterLabels: labels,
                value: time,
                to: &out
            )
        },
        MeterFamily(
            name: "zuora_meter_poll_errors_total",
            type: "counter",
            help: "Failed polls of this meter-version by reason: auth (Zuora rejected the credentials or the "
                + "token), not_found, bad_request, rate_limited, server_error, timeout, network, decode; a failed "
                + "token request counts with the reason that describes it."
        ) { labels, state, out in
            for reason in PollErrorReason.allCases {
                guard let count = state.pollErrors[reason] else { continue }
                Exposition.appendSample(
                    "zuora_meter_poll_errors_total",
                    meterLabels: labels,
                    ("reason", reason.rawValue),
                    value: Double(count),
                    to: &out
                )
            }
        },
        MeterFamily(
            name: "zuora_meter_last_session_duration_seconds",
            type: "gauge",
            help: "Duration of the last meter session that ended, by run type, from session status callouts."
        ) { labels, state, out in
            for (runType, seconds) in state.lastSessionDuration.sorted(by: { $0.key < $1.key }) {
                Exposition.appendSample(
                    "zuora_meter_last_session_duration_seconds",
                    meterLabels: labels,
                    ("run_type", runType),
                    value: seconds,
                    to: &out
                )
            }
        },
    ]
}
