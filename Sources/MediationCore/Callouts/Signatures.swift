import COpenSSL
import Foundation

/// Checks on callout credentials. Comparisons take the same time whatever the inputs share, so that
/// response timing does not reveal how much of a guess was right.
public enum Signatures {
    /// HMAC-SHA256 of `message` under `key` (OpenSSL's libcrypto).
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBytes { keyBuffer in
            message.withUnsafeBytes { messageBuffer in
                _ = HMAC(
                    EVP_sha256(),
                    keyBuffer.baseAddress,
                    Int32(keyBuffer.count),
                    messageBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self),
                    messageBuffer.count,
                    &output,
                    &length
                )
            }
        }
        return Array(output.prefix(Int(length)))
    }

    /// Equality in constant time for equal lengths (lengths themselves are not secret here).
    public static func constantTimeEqual(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
        guard lhs.count == rhs.count else { return false }
        guard !lhs.isEmpty else { return true }
        return lhs.withUnsafeBytes { a in
            rhs.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 }
        }
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// Decodes a hex or base64 signature as the configuration says it is encoded; nil when malformed.
    /// Works on bytes: a header may hold any UTF-8 (or worse), and stepping through Characters after
    /// counting bytes once trapped on `é`.
    public static func decode(_ text: String, encoding: SignatureEncoding) -> [UInt8]? {
        var bytes = ArraySlice(text.utf8)
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes.removeFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        // Some senders prefix the algorithm, as in `sha256=…`.
        let prefix = Array("sha256=".utf8)
        if bytes.count >= prefix.count, zip(bytes.prefix(prefix.count), prefix).allSatisfy({ $0 | 0x20 == $1 }) {
            bytes = bytes.dropFirst(prefix.count)
        }
        switch encoding {
        case .base64:
            return Data(base64Encoded: Data(bytes)).map { Array($0) }
        case .hex:
            guard bytes.count % 2 == 0 else { return nil }
            var decoded: [UInt8] = []
            decoded.reserveCapacity(bytes.count / 2)
            var index = bytes.startIndex
            while index < bytes.endIndex {
                guard let high = PathEncoding.hexValue(bytes[index]), let low = PathEncoding.hexValue(bytes[index + 1])
                else {
                    return nil
                }
                decoded.append(high << 4 | low)
                index += 2
            }
            return decoded
        }
    }

    /// The user and password of a `Basic` Authorization header; nil when it is not one.
    public static func basicCredentials(_ header: String?) -> (user: [UInt8], password: [UInt8])? {
        guard let header, header.lowercased().hasPrefix("basic "),
            let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces))
        else { return nil }
        let bytes = Array(decoded)
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        return (Array(bytes[..<colon]), Array(bytes[(colon + 1)...]))
    }
}

public enum SignatureEncoding: String, Sendable, Equatable, CaseIterable {
    case hex
    case base64
}
