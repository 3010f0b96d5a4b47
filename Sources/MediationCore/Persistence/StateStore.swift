import Foundation

/// Reads and writes the state file `state.json` in `--storage.path`. Never traps and never refuses to
/// start: a missing file is a first start, an unreadable or corrupt one is reported and ignored.
public struct StateStore: Sendable {
    public static let fileName = "state.json"
    /// Far above 10,000 meter-versions' state (a few MB); a bigger file is not ours.
    public static let maxBytes = 256 << 20

    public let directory: String
    private let files: any StateFiles

    public init(directory: String, files: any StateFiles = DiskStateFiles()) {
        self.directory = directory
        self.files = files
    }

    public var path: String { directory.hasSuffix("/") ? directory + Self.fileName : directory + "/" + Self.fileName }

    public enum LoadResult: Sendable {
        case loaded(TrackerSnapshot)
        case missing
        /// Unreadable, corrupt, or of another version: start fresh and say why.
        case unusable(String)
    }

    public func load() -> LoadResult {
        let bytes: [UInt8]
        do {
            guard let read = try files.read(path, limit: Self.maxBytes) else { return .missing }
            bytes = read
        } catch {
            return .unusable("\(error)")
        }
        return Self.decode(bytes)
    }

    /// Decodes a state file's bytes; anything but a well-formed snapshot of the current version is unusable.
    public static func decode(_ bytes: [UInt8]) -> LoadResult {
        struct VersionOnly: Decodable { let version: Int }
        let data = Data(bytes)
        guard let header = try? JSONDecoder().decode(VersionOnly.self, from: data) else {
            return .unusable("not a state file (no JSON object with a version)")
        }
        guard header.version == TrackerSnapshot.currentVersion else {
            return .unusable(
                "state file version \(header.version); this exporter reads \(TrackerSnapshot.currentVersion)"
            )
        }
        do {
            return .loaded(try JSONDecoder().decode(TrackerSnapshot.self, from: data))
        } catch {
            return .unusable("corrupt state file: \(Excerpt.of("\(error)", limit: 300))")
        }
    }

    public static func encode(_ snapshot: TrackerSnapshot) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(snapshot))
    }

    public func save(_ snapshot: TrackerSnapshot) throws {
        try files.replace(path, with: try Self.encode(snapshot))
    }
}
