/// A configuration problem: which key, where, what is wrong and how to fix it.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    /// The key path, e.g. `meters[2].id`; empty for the document itself.
    public let path: String
    /// 1-based line in the file, when known.
    public let line: Int?
    public let message: String

    public init(path: String, line: Int?, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        let place = path.isEmpty ? "config" : path
        let at = line.map { " (line \($0))" } ?? ""
        return "\(place)\(at): \(message)"
    }
}
