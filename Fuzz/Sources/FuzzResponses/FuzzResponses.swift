// Fuzz target: the Zuora body decoders ZuoraResponses.runStatus(from:), token(from:), errorSummary(from:).
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
    return 0
}
