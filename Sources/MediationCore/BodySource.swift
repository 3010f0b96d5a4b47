/// A response body produced while it is sent, for large bodies assembled from many cached pieces (a plain
/// /metrics of a big fleet): the transport reads it front to back as the socket takes it.
public protocol BodySource: Sendable {
    /// The whole body's size, sent as Content-Length.
    var count: Int { get }
    /// Copies the body's bytes from `position` on into `buffer`; returns how many (0 past the end).
    func read(at position: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int
}
