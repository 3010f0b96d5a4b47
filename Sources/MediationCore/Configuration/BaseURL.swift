import Yams

/// A base URL: scheme http or https, a host, no query; kept without a trailing slash.
public struct BaseURL: Sendable, Equatable {
    public let text: String

    public init?(_ raw: String) {
        var text = raw
        while text.hasSuffix("/") { text.removeLast() }
        let lower = text.lowercased()
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") else { return nil }
        let afterScheme = text.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        guard afterScheme.count >= 3, !afterScheme[2].isEmpty, !text.contains("?"), !text.contains("#"),
            !text.contains(" ")
        else { return nil }
        self.text = text
    }
}
