/// The record-count families: summaries of ended sessions and periodic snapshots of running ones. A
/// meter-version renders nothing in them until a summary or snapshot arrived (none with summaries off
/// and no periodic callouts), but `zuora_meter_records_total`, which is there from 0 while summaries are on.
extension MeterFamily {
    private static let summaryNote =
        "From Zuora's summary API (POST /meters/{id}/summary), asked once per ended session when "
        + "summary.enabled; its field names (outputCount, errorCount, operatorId, errorCode) are inferred, "
        + "not documented."
    private static let periodicNote =
        "From Meter Session Periodic Status Update callouts; vanishes when the session ends. The field names "
        + "of the callout template are inferred, not documented."

    static let records: [MeterFamily] = [
        MeterFamily(
            name: "zuora_meter_last_session_records",
            type: "gauge",
            help: "Records of the last summarised session by outcome (output, error). \(summaryNote)"
        ) { labels, state, out in
            guard let last = state.records.lastSession else { return }
            appendOutcomes("zuora_meter_last_session_records", labels, last.total, to: &out)
        },
        MeterFamily(
            name: "zuora_meter_records_total",
            type: "counter",
            help: "Records by outcome (output, error), summed over every summarised session. \(summaryNote)"
        ) { labels, state, out in
            guard state.records.lastSession != nil || state.countsRecords else { return }
            appendOutcomes("zuora_meter_records_total", labels, state.records.total, to: &out)
        },
        MeterFamily(
            name: "zuora_meter_last_session_operator_records",
            type: "gauge",
            help: "Records of the last summarised session by operator id and outcome (output, error); at most "
                + "summary.max_operators operator ids, the rest summed as \"other\"; \"unknown\" for records "
                + "of no operator. \(summaryNote)"
        ) { labels, state, out in
            guard let last = state.records.lastSession else { return }
            for (operatorId, counts) in last.operators.sorted(by: { $0.key < $1.key }) {
                appendOutcomes(
                    "zuora_meter_last_session_operator_records",
                    labels,
                    counts,
                    extra: ("operator_id", operatorId),
                    to: &out
                )
            }
        },
        MeterFamily(
            name: "zuora_meter_last_session_error_records",
            type: "gauge",
            help: "Error records of the last summarised session by error code; at most summary.max_error_codes "
                + "codes, the rest summed as \"other\"; \"unknown\" for errors without a code. \(summaryNote)"
        ) { labels, state, out in
            guard let last = state.records.lastSession else { return }
            for (code, count) in last.errorCodes.sorted(by: { $0.key < $1.key }) {
                Exposition.appendSample(
                    "zuora_meter_last_session_error_records",
                    meterLabels: labels,
                    ("error_code", code),
                    value: Double(count),
                    to: &out
                )
            }
        },
        MeterFamily(
            name: "zuora_meter_last_session_records_timestamp_seconds",
            type: "gauge",
            help: "When the last session summary was taken, in seconds since the epoch. \(summaryNote)"
        ) { labels, state, out in
            guard let last = state.records.lastSession else { return }
            Exposition.appendSample(
                "zuora_meter_last_session_records_timestamp_seconds",
                meterLabels: labels,
                value: last.takenAt,
                to: &out
            )
        },
        MeterFamily(
            name: "zuora_meter_session_operator_records",
            type: "gauge",
            help: "The running session's latest snapshot by operator id and outcome (output, error, total); at "
                + "most summary.max_operators operator ids, the rest summed as \"other\". \(periodicNote)"
        ) { labels, state, out in
            guard let running = state.records.running else { return }
            var rows = running.operators.sorted { $0.key < $1.key }
            if running.hasOther { rows.append((SessionSummary.otherLabel, running.other)) }
            for (operatorId, counts) in rows {
                for (outcome, value) in [("output", counts.output), ("error", counts.error), ("total", counts.total)] {
                    Exposition.appendSample(
                        "zuora_meter_session_operator_records",
                        meterLabels: labels,
                        ("operator_id", operatorId),
                        ("outcome", outcome),
                        value: Double(value),
                        to: &out
                    )
                }
            }
        },
        MeterFamily(
            name: "zuora_meter_session_last_update_timestamp_seconds",
            type: "gauge",
            help: "When the running session's latest periodic snapshot arrived, in seconds since the epoch. "
                + periodicNote
        ) { labels, state, out in
            guard let running = state.records.running else { return }
            Exposition.appendSample(
                "zuora_meter_session_last_update_timestamp_seconds",
                meterLabels: labels,
                value: running.updatedAt,
                to: &out
            )
        },
    ]

    /// The `outcome` pair (output, error) of one set of counts, with an optional label before it.
    private static func appendOutcomes(
        _ name: String,
        _ labels: [UInt8],
        _ counts: RecordCounts,
        extra: (String, String)? = nil,
        to out: inout [UInt8]
    ) {
        for (outcome, value) in [("output", counts.output), ("error", counts.error)] {
            if let extra {
                Exposition.appendSample(
                    name,
                    meterLabels: labels,
                    extra,
                    ("outcome", outcome),
                    value: Double(value),
                    to: &out
                )
            } else {
                Exposition.appendSample(name, meterLabels: labels, ("outcome", outcome), value: Double(value), to: &out)
            }
        }
    }
}
