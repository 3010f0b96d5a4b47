import Foundation

/// The file operations `StateStore` needs, behind a protocol so that tests run in-process without disks.
public protocol StateFiles: Sendable {
    /// The file's bytes, nil when it does not exist; throws when it exists but cannot be read, or holds
    /// more than `limit` bytes.
    func read(_ path: String, limit: Int) throws -> [UInt8]?
    /// Replaces `path` atomically: a temporary file in the same directory, written and fsync'ed, renamed
    /// over it. A crash leaves either the old file or the new one, never a torn one.
    func replace(_ path: String, with bytes: [UInt8]) throws
}

public struct StateFileError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// The real file system (POSIX calls: `open`, `write`, `fsync`, `rename`).
public struct DiskStateFiles: StateFiles {
    public init() {}

    public func read(_ path: String, limit: Int) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StateFileError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw StateFileError("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { return bytes }
            guard bytes.count + count <= limit else { throw StateFileError("\(path) is over \(limit) bytes") }
            bytes.append(contentsOf: chunk[..<count])
        }
    }

    public func replace(_ path: String, with bytes: [UInt8]) throws {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw StateFileError("cannot create \(temporary): \(String(cString: strerror(errno)))")
        }
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if count < 0 {
                if errno == EINTR { continue }
                let problem = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw StateFileError("cannot write \(temporary): \(problem)")
            }
            written += count
        }
        guard fsync(fd) == 0 else {
            let problem = String(cString: strerror(errno))
            close(fd)
            unlink(temporary)
            throw StateFileError("cannot fsync \(temporary): \(problem)")
        }
        close(fd)
        guard rename(temporary, path) == 0 else {
            let problem = String(cString: strerror(errno))
            unlink(temporary)
            throw StateFileError("cannot rename \(temporary) to \(path): \(problem)")
        }
        // The rename itself is durable once the directory is synced.
        let directory = (path as NSString).deletingLastPathComponent
        let dirFd = open(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dirFd >= 0 {
            _ = fsync(dirFd)
            close(dirFd)
        }
    }
}
