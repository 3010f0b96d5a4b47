import MediationCore

/// What a failed request means: the poll error reason, and whether it concerns one meter-version or the
/// whole tenant (`FaultScope`).
///
/// Tenant faults: the token endpoint failing (no request can be made without a token), 429 and 503 (Zuora
/// asked the tenant to wait), `ratelimit-remaining: 0`, and Zuora unreachable (name not resolved,
/// connection refused, TLS refused: every request would fail alike).
///
/// Meter faults, everything else: 404 and 400 are about the meter's path; 500, 502 and 504 come from one
/// request's processing behind Zuora's gateway (a long meter query ends in 504 alone); a body that does not
/// decode is one answer's. A timeout of one request too: one meter's query can be slow while others answer,
/// and when Zuora hangs as a whole, every meter backs off on its own while new connections then fail as
/// unreachable (a tenant fault).
enum ZuoraFaults {
    /// Zuora's error texts in messages and logs are cut to this many characters.
    static let maxErrorText = 200

    static func result(of failure: CurlFailure) -> FetchResult {
        let detail = capped(failure.detail)
        switch failure.kind {
        case .timeout: return FetchResult(.failure(.timeout, message: detail))
        case .unreachable: return FetchResult(.failure(.network, message: detail), scope: .tenant)
        case .network, .cancelled: return FetchResult(.failure(.network, message: detail))
        case .bodyTooLarge, .badEncoding: return FetchResult(.failure(.decode, message: detail))
        case .refused: return FetchResult(.failure(.badRequest, message: detail))
        }
    }

    /// A runStatus answer (after any 401 retry).
    static func result(of response: CurlResponse) -> FetchResult {
        let requestId = requestIdSuffix(response)
        let tenant = response.status == 429 || response.status == 503 || RequestGate.tenantExhausted(response)
        let scope: FaultScope = tenant ? .tenant : .meter
        guard response.status == 200 else {
            let detail =
                ZuoraResponses.errorSummary(from: response.body).map { capped($0) } ?? "no error details in the body"
            let after401 = response.status == 401 ? " (a fresh token was refused too)" : ""
            return FetchResult(
                .failure(
                    PollErrorReason.forHTTPStatus(response.status),
                    message: "HTTP \(response.status)\(after401): \(detail)\(requestId)"
                ),
                scope: scope
            )
        }
        switch ZuoraResponses.runStatus(from: response.body) {
        case .success(let status): return FetchResult(.status(status))
        case .failure(let problem):
            return FetchResult(.failure(.decode, message: "\(capped(problem.description))\(requestId)"), scope: scope)
        }
    }

    /// A summary answer (after any 401 retry): failures as for `runStatus`; a body that does not decode
    /// is reported with its first 200 bytes, escaped (the body only: never a header or the token).
    static func summary(of response: CurlResponse) -> SummaryFetchResult {
        guard response.status == 200 else {
            let failed = result(of: response)
            guard case .failure(let reason, let message) = failed.result else {
                return .failure(.decode, message: "HTTP \(response.status)", scope: failed.scope)
            }
            return .failure(reason, message: message, scope: failed.scope)
        }
        switch ZuoraResponses.summary(from: response.body) {
        case .success(let summary):
            return .summary(summary)
        case .failure(let problem):
            let scope: FaultScope = RequestGate.tenantExhausted(response) ? .tenant : .meter
            let message =
                "\(capped(problem.description)); body (\(response.body.count) bytes) starts: "
                + "\(BodyPreview.of(response.body))\(requestIdSuffix(response))"
            return .failure(.decode, message: message, scope: scope)
        }
    }

    /// A token request that got no answer: reported like a runStatus request that got none.
    static func tokenFailure(of failure: CurlFailure) -> TokenFailure {
        if failure.kind == .cancelled { return .cancelled }
        let reason = result(of: failure).result.reason ?? .network
        return TokenFailure(reason: reason, message: "token request failed: \(capped(failure.detail))")
    }

    /// The token endpoint's answer. `auth` only when Zuora rejected the credentials (400, 401, 403) or the
    /// token is unusable as a header value; other statuses keep their own reason (429, 5xx, …).
    static func token(from response: CurlResponse, fetchedAt: Double) -> Result<FetchedToken, TokenFailure> {
        let requestId = requestIdSuffix(response)
        guard (200..<300).contains(response.status) else {
            // The body of a failed token request is undocumented; report the status, never the form.
            let rejected = response.status == 400 || response.status == 401 || response.status == 403
            return .failure(
                TokenFailure(
                    reason: rejected ? .auth : PollErrorReason.forHTTPStatus(response.status),
                    message: "token request answered HTTP \(response.status)"
                        + (rejected ? "; check the client id and secret" : "") + requestId
                )
            )
        }
        switch ZuoraResponses.token(from: response.body) {
        case .failure(let problem):
            return .failure(
                TokenFailure(reason: .decode, message: "token response unusable: \(capped(problem.description))")
            )
        case .success(let token):
            guard isB64Token(token.token) else {
                return .failure(
                    TokenFailure(
                        reason: .auth,
                        message: "token endpoint returned an access_token with forbidden characters\(requestId)"
                    )
                )
            }
            // Refreshed at least daily whatever Zuora says (its tokens live an hour).
            let lifetime = min(token.expiresIn, 86_400)
            return .success(
                FetchedToken(token: token.token, policy: TokenPolicy(fetchedAt: fetchedAt, lifetime: lifetime))
            )
        }
    }

    /// RFC 6750's b64token: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`. Anything else
    /// (CR, LF, control characters, blanks) could split or forge the Authorization header.
    static func isB64Token(_ token: String) -> Bool {
        let bytes = Array(token.utf8)
        var end = bytes.count
        while end > 0, bytes[end - 1] == UInt8(ascii: "=") { end -= 1 }
        guard end > 0 else { return false }
        return bytes[..<end].allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"):
                true
            case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"),
                UInt8(ascii: "/"):
                true
            default: false
            }
        }
    }

    /// At most `limit` characters, control characters as blanks, an ellipsis when cut.
    static func capped(_ text: String, limit: Int = maxErrorText) -> String {
        var out = ""
        var count = 0
        for character in text {
            if count == limit { return out + "…" }
            let control = character.unicodeScalars.contains { $0.value < 0x20 || (0x7F..<0xA0).contains($0.value) }
            out.append(control ? " " : character)
            count += 1
        }
        return out
    }

    static func requestIdSuffix(_ response: CurlResponse) -> String {
        response.headers["zuora-request-id"].map { " (Zuora-Request-Id \(capped($0, limit: 100)))" } ?? ""
    }
}

extension PollOutcome.Result {
    /// The failure's reason; nil for a status.
    var reason: PollErrorReason? {
        if case .failure(let reason, _) = self { return reason }
        return nil
    }
}
