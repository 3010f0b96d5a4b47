/// A response body produced while it is sent, for large bodies assembled from many cached pieces (a plain
/// /metrics of a big fleet): the transport reads it front to back as the socket takes it.
public protocol BodySource: Sendable {
    /// The whole body's size, sent as Content-Length.
    var count: Int { get }
    /// Copies the body's bytes from `position` on into `buffer`; returns how many (0 past the end).
    func read(at position: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int
}

extension BodySource {
    /// The whole body at once (tests, and callers that need it in one piece).
    public func readAll() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let read = bytes.withUnsafeMutableBytes { self.read(at: 0, into: $0) }
        return Array(bytes.prefix(read))
    }
}
