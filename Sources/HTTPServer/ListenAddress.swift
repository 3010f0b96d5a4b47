#if canImport(Glibc)
import Glibc
#endif

/// A `--web.listen-address` value: `:9817` (every address, IPv4 and IPv6), `127.0.0.1:9817`,
/// `[::1]:9817` or `localhost:9817`.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public enum Host: Sendable, Equatable {
        case any
        case ipv4(String)
        case ipv6(String)
    }

    public let host: Host
    public let port: UInt16

    public init(_ text: String) throws(ServerError) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            throw ServerError("listen address \"\(text)\" needs a port, e.g. :9817 or 127.0.0.1:9817")
        }
        self.port = port
        let hostText = String(text[..<colon])
        if hostText.isEmpty {
            host = .any
        } else if hostText == "localhost" {
            host = .ipv4("127.0.0.1")
        } else if hostText.hasPrefix("["), hostText.hasSuffix("]") {
            let inner = String(hostText.dropFirst().dropLast())
            var probe = in6_addr()
            guard inet_pton(AF_INET6, inner, &probe) == 1 else {
                throw ServerError("listen address \"\(text)\": \(inner) is not an IPv6 address")
            }
            host = .ipv6(inner)
        } else {
            var probe = in_addr()
            guard inet_pton(AF_INET, hostText, &probe) == 1 else {
                throw ServerError(
                    "listen address \"\(text)\": \(hostText) is not an IPv4 address (names other than localhost are not resolved)"
                )
            }
            host = .ipv4(hostText)
        }
    }

    public var description: String {
        switch host {
        case .any: ":\(port)"
        case .ipv4(let address): "\(address):\(port)"
        case .ipv6(let address): "[\(address)]:\(port)"
        }
    }
}

public struct ServerError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
