import Foundation

/// Decoding of `runStatus`, token and error bodies. Lenient where Zuora is inconsistent (codes as strings
/// or numbers, several error shapes), strict about what the exporter relies on; never traps.
public enum ZuoraResponses {
    /// A `runStatus` 200 body's status, or why it cannot be used.
    public static func runStatus(from body: [UInt8]) -> Result<RunStatus, DecodeProblem> {
        guard let decoded = try? JSONDecoder().decode(RunStatusBody.self, from: Data(body)) else {
            return .failure(DecodeProblem("body is not a JSON object"))
        }
        if decoded.success == false {
            return .failure(DecodeProblem("success is false: \(errorSummary(from: body) ?? "no error details")"))
        }
        guard let code = decoded.data?.runStatus?.value else {
            return .failure(DecodeProblem("data.runStatus is missing or not an integer"))
        }
        return .success(RunStatus(code: code))
    }

    /// One line from any documented error shape: `errors[]` (400), `error{}` (404), `reasons[]` (500 and
    /// /v1 paths, code as string or number). Nil when the body has none of them.
    public static func errorSummary(from body: [UInt8]) -> String? {
        guard let decoded = try? JSONDecoder().decode(ErrorBody.self, from: Data(body)) else { return nil }
        let parts = (decoded.errors + decoded.reasons + [decoded.error].compactMap { $0 }).compactMap {
            item -> String? in
            let text = [item.code.map { "code \($0)" }, item.message].compactMap { $0 }.joined(separator: ": ")
            return text.isEmpty ? nil : text
        }
        // Capped: an error text reaches the log, the landing page and the callers' messages.
        return parts.isEmpty ? nil : Excerpt.of(parts.joined(separator: "; "), limit: 200)
    }

    /// An OAuth token answer: the access token and its lifetime in seconds.
    public static func token(from body: [UInt8]) -> Result<(token: String, expiresIn: Double), DecodeProblem> {
        guard let decoded = try? JSONDecoder().decode(TokenBody.self, from: Data(body)) else {
            return .failure(DecodeProblem("token body is not a JSON object"))
        }
        guard let token = decoded.accessToken, !token.isEmpty else {
            return .failure(DecodeProblem("access_token is missing"))
        }
        let expiresIn = Double(decoded.expiresIn?.value ?? 3599)
        guard expiresIn > 0 else { return .failure(DecodeProblem("expires_in is not positive")) }
        return .success((token, expiresIn))
    }
}

/// Why a body could not be used: the `decode` poll error.
public struct DecodeProblem: Error, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// An integer sent as a JSON number without a fraction or as a string of digits; nil for anything else.
struct LenientInt: Decodable {
    let value: Int?

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let int = try? container.decode(Int.self) {
            value = int
        } else if let double = try? container.decode(Double.self), double == double.rounded(), abs(double) < 1e15 {
            value = Int(double)
        } else if let text = try? container.decode(String.self) {
            value = Int(text.trimmingCharacters(in: .whitespaces))
        } else {
            value = nil
        }
    }
}

/// An error code sent as a string or a number.
struct LenientCode: Decodable, CustomStringConvertible {
    let description: String

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            description = text
        } else if let int = try? container.decode(Int.self) {
            description = String(int)
        } else {
            description = "?"
        }
    }
}

private struct RunStatusBody: Decodable {
    struct Payload: Decodable {
        let runStatus: LenientInt?
    }
    let success: Bool?
    let data: Payload?

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        success = try? container.decodeIfPresent(Bool.self, forKey: .success)
        data = try? container.decodeIfPresent(Payload.self, forKey: .data)
    }

    enum CodingKeys: String, CodingKey { case success, data }
}

private struct ErrorBody: Decodable {
    struct Item: Decodable {
        let code: LenientCode?
        let message: String?

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            code = try? container.decodeIfPresent(LenientCode.self, forKey: .code)
            message = try? container.decodeIfPresent(String.self, forKey: .message)
        }

        enum CodingKeys: String, CodingKey { case code, message }
    }

    let errors: [Item]
    let reasons: [Item]
    let error: Item?

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        errors = (try? container.decodeIfPresent([Item].self, forKey: .errors)) ?? []
        reasons = (try? container.decodeIfPresent([Item].self, forKey: .reasons)) ?? []
        error = try? container.decodeIfPresent(Item.self, forKey: .error)
    }

    enum CodingKeys: String, CodingKey { case errors, reasons, error }
}

private struct TokenBody: Decodable {
    let accessToken: String?
    let expiresIn: LenientInt?

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case expiresIn = "expires_in"
    }
}
