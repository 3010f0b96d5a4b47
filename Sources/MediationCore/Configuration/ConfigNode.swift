import Yams

/// A YAML node with its key path, for reading a configuration strictly: every error names the key and
/// line, unknown keys are refused (a typo must not silently fall back to a default).
struct ConfigNode {
    let node: Node
    let path: String

    var line: Int? { node.mark.map(\.line) }

    func error(_ message: String) -> ConfigError { ConfigError(path: path, line: line, message: message) }

    private func child(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// The entries of a mapping, refusing keys outside `allowed` and keys given twice.
    func mapping(allowed: [String]) throws(ConfigError) -> [String: ConfigNode] {
        guard case .mapping(let mapping) = node else {
            throw error("expected a mapping of keys (\(allowed.joined(separator: ", "))), got \(kind)")
        }
        var entries: [String: ConfigNode] = [:]
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else { throw error("keys must be plain words") }
            let key = scalar.string
            let entry = ConfigNode(node: value, path: child(key))
            guard allowed.contains(key) else {
                throw entry.error("unknown key; allowed here: \(allowed.joined(separator: ", "))")
            }
            guard entries[key] == nil else { throw entry.error("key given twice; keep one") }
            entries[key] = entry
        }
        return entries
    }

    func sequence() throws(ConfigError) -> [ConfigNode] {
        guard case .sequence(let sequence) = node else { throw error("expected a list, got \(kind)") }
        return sequence.enumerated().map { ConfigNode(node: $1, path: "\(path)[\($0)]") }
    }

    /// A scalar's text, whatever YAML would resolve it to (versions like 1.0 stay as written).
    func text() throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node else { throw error("expected a single value, got \(kind)") }
        return scalar.string
    }

    func string() throws(ConfigError) -> String {
        guard case .scalar(let scalar) = node, node.tag.rawValue == Tag.Name.str.rawValue || scalar.style != .plain
        else { throw error("expected a string, got \(kind)") }
        return scalar.string
    }

    func int(in range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let value = node.int, node.tag.rawValue == Tag.Name.int.rawValue else {
            throw error("expected a whole number, got \(kind)")
        }
        guard range.contains(value) else {
            throw error("must be between \(range.lowerBound) and \(range.upperBound), got \(value)")
        }
        return value
    }

    func bool() throws(ConfigError) -> Bool {
        guard let value = node.bool, node.tag.rawValue == Tag.Name.bool.rawValue else {
            throw error("expected true or false, got \(kind)")
        }
        return value
    }

    /// A Prometheus-style duration (`30s`, `5m`, `1h30m`).
    func duration(atLeast minimum: Double = 0.001) throws(ConfigError) -> Double {
        let text = try self.text()
        guard let seconds = DurationText.seconds(text) else {
            throw error("\"\(text)\" is not a duration; write a number and a unit, e.g. 500ms, 30s, 5m, 1h")
        }
        guard seconds >= minimum else { throw error("must be at least \(DurationText.format(minimum)), got \(text)") }
        guard seconds.isFinite, seconds <= DurationText.maximum else {
            throw error("\(text) is longer than a year; write a shorter duration")
        }
        return seconds
    }

    private var kind: String {
        switch node {
        case .mapping: "a mapping"
        case .sequence: "a list"
        case .alias: "an alias"
        case .scalar(let scalar):
            node.tag.rawValue == Tag.Name.null.rawValue
                ? "nothing" : "\(node.tag.rawValue.split(separator: ":").last ?? "") \"\(scalar.string)\""
        }
    }
}
