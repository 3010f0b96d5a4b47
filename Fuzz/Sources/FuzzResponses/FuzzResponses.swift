// Fuzz target: the Zuora body decoders ZuoraResponses.runStatus(from:), token(from:), errorSummary(from:),
// summary(from:) (with the bounded last-session records made of it), and BodyPreview.of(_:).
import FuzzSupport
import MediationCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = fuzzBytes(data, size)
    switch ZuoraResponses.runStatus(from: input) {
    case .success(let status):
        // Any integer is a status; its labels must be a documented name or UNKNOWN.
        let name = status.name
        if !(RunStatus.knownNames + [RunStatus.unknownName]).contains(name) {
            violated("status \(status.code) has name \(name)", input: input)
        }
        _ = status.description
    case .failure(let problem):
        _ = problem.description
    }
    switch ZuoraResponses.token(from: input) {
    case .success(let (token, expiresIn)):
        if token.isEmpty { violated("accepted an empty token", input: input) }
        if !(expiresIn > 0) || !expiresIn.isFinite { violated("accepted expires_in \(expiresIn)", input: input) }
    case .failure(let problem):
        _ = problem.description
    }
    if let summary = ZuoraResponses.errorSummary(from: input), summary.isEmpty {
        violated("error summary is an empty string (should be nil)", input: input)
    }
    if case .success(let summary) = ZuoraResponses.summary(from: input) {
        checkSummary(summary, input: input)
    }
    let preview = BodyPreview.of(input)
    if preview.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
        violated("the body preview holds a control character", input: input)
    }
    return 0
}

/// The sums add up, every label is bounded, and the bounded records keep the totals.
func checkSummary(_ summary: SessionSummary, input: [UInt8]) {
    let operators = summary.operators.values.reduce(RecordCounts()) { $0 + $1 }
    if operators != summary.total { violated("operators sum to \(operators), total \(summary.total)", input: input) }
    let errors = summary.errorCodes.values.reduce(UInt64(0)) { $0 &+ $1 }
    if summary.total.error < UInt64.max / 2, errors != summary.total.error {
        violated("error codes sum to \(errors), errors \(summary.total.error)", input: input)
    }
    for label in Array(summary.operators.keys) + Array(summary.errorCodes.keys)
    where label.isEmpty || label.utf8.count > SessionSummary.maxLabelBytes {
        violated("label of \(label.utf8.count) bytes", input: input)
    }
    let last = LastSessionRecords(summary, takenAt: 0, maxOperators: 3, maxErrorCodes: 2)
    if last.operators.count > 4 || last.errorCodes.count > 3 {
        violated("bounded records keep \(last.operators.count) operators", input: input)
    }
    if last.operators.values.reduce(RecordCounts(), { $0 + $1 }) != summary.total {
        violated("bounding lost records", input: input)
    }
}
