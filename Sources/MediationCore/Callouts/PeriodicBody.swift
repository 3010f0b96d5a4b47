import Foundation

/// The JSON body of the "Meter Session Periodic Status Update" callout template (see the README):
/// `meterId`, `meterName`, `operatorId`, `sessionId`, `runType`, `startTime`, `endTime`, `outputCount`,
/// `errorCount`, `totalCount`, `errorPercentage`, and optionally `version`. Ids and counts may be numbers or
/// strings; counts are integers 0...2^53 (absent: 0; `totalCount` absent: output + error); times ISO 8601
/// (others and empty ones are ignored); any run type is accepted; `errorPercentage` is not used (it follows from the counts). Over-long values are refused, as
/// for status callouts, plus `operatorId` over 128 bytes.
public enum PeriodicBody {
    public static let maxOperatorIdBytes = 128

    public static func parse(_ body: [UInt8]) -> Result<PeriodicEvent, CalloutProblem> {
        let fields: Fields
        do {
            fields = try JSONDecoder().decode(Fields.self, from: Data(body))
        } catch DecodingError.dataCorrupted(let context) where !context.codingPath.isEmpty {
            let name = context.codingPath.last?.stringValue ?? "a count"
            return .failure(CalloutProblem("\(Excerpt.of(name)) is not a whole number from 0 to 2^53"))
        } catch {
            return .failure(CalloutProblem("body is not a JSON object of the periodic status template"))
        }
        for (name, value, limit) in [
            ("version", fields.version?.text, CalloutBody.Limits.version),
            ("meterName", fields.meterName?.text, CalloutBody.Limits.meterName),
            ("sessionId", fields.sessionId?.text, CalloutBody.Limits.sessionId),
            ("operatorId", fields.operatorId?.text, maxOperatorIdBytes),
        ] {
            if let value, value.utf8.count > limit {
                return .failure(CalloutProblem("\(name) is longer than \(limit) bytes"))
            }
        }
        guard let meterText = fields.meterId?.text, let meterId = Int64(meterText), meterId > 0 else {
            return .failure(CalloutProblem("meterId is missing or not a positive integer"))
        }
        guard let sessionId = fields.sessionId?.text, !sessionId.isEmpty else {
            return .failure(CalloutProblem("sessionId is missing"))
        }
        // Neither the run type nor a time in a format we do not read is worth a refusal (Zuora would retry
        // the callout for nothing): the counts are what this callout is for.
        let runType = Excerpt.of((fields.runType?.text).map { $0.isEmpty ? "NORMAL" : $0.uppercased() } ?? "NORMAL")
        let startedAt = (fields.startTime?.text).flatMap { $0.isEmpty ? nil : ISO8601.seconds($0) }
        let endedAt = (fields.endTime?.text).flatMap { $0.isEmpty ? nil : ISO8601.seconds($0) }
        var version = ExporterConfig.defaultVersion
        if let given = fields.version?.text, !given.isEmpty { version = given }
        let output = fields.outputCount?.value ?? 0
        let error = fields.errorCount?.value ?? 0
        return .success(
            PeriodicEvent(
                key: MeterKey(meterId: meterId, version: version),
                meterName: fields.meterName?.text,
                operatorId: SessionSummary.label(fields.operatorId?.text),
                sessionId: sessionId,
                runType: runType,
                counts: SnapshotCounts(
                    output: output,
                    error: error,
                    total: fields.totalCount?.value ?? output.saturatingAdd(error)
                ),
                startedAt: startedAt,
                endedAt: endedAt
            )
        )
    }

    private struct Fields: Decodable {
        var meterId: CalloutBody.Scalar?
        var meterName: CalloutBody.Scalar?
        var operatorId: CalloutBody.Scalar?
        var sessionId: CalloutBody.Scalar?
        var runType: CalloutBody.Scalar?
        var startTime: CalloutBody.Scalar?
        var endTime: CalloutBody.Scalar?
        var version: CalloutBody.Scalar?
        var outputCount: RecordCount?
        var errorCount: RecordCount?
        var totalCount: RecordCount?
    }
}
