import CZlib

/// gzip (RFC 1952) on top of zlib.
///
/// A scrape body is a large part that changes rarely (per-meter series) and a small part rendered per
/// scrape. `Segment` compresses each part as a byte-aligned raw deflate run so that `join` can put them
/// into one gzip member without compressing the large part again (the technique of zlib's gzjoin).
public enum Gzip {
    /// One part of a future gzip member: raw deflate data ending on a byte boundary, with its CRC.
    public struct Segment: Sendable {
        public let deflated: [UInt8]
        public let crc: UInt
        public let length: Int
    }

    /// Compresses `bytes` as a segment. Only the last segment of a member may be `final`.
    public static func segment(_ bytes: [UInt8], final: Bool, level: Int32 = 6) -> Segment {
        let builder = SegmentBuilder(level: level)
        builder.append(bytes)
        return builder.finish(final: final)
    }

    /// Non-final segments as one: their bytes back to back, their CRCs combined.
    public static func concatenate(_ segments: [Segment]) -> Segment {
        var deflated = [UInt8]()
        deflated.reserveCapacity(segments.reduce(0) { $0 + $1.deflated.count })
        var crc: UInt = 0
        var length = 0
        for segment in segments {
            deflated.append(contentsOf: segment.deflated)
            crc = crc32_combine(crc, segment.crc, off_t(segment.length))
            length += segment.length
        }
        return Segment(deflated: deflated, crc: crc, length: length)
    }

    /// One gzip member made of `segments`, the last of which must be final.
    public static func join(_ segments: [Segment]) -> [UInt8] { Array(joinedParts(segments).joined()) }

    /// `join` as the parts to send one after the other: the segments' bytes are shared, not copied.
    public static func joinedParts(_ segments: [Segment]) -> [[UInt8]] {
        var crc: UInt = 0
        var length = 0
        for segment in segments {
            crc = crc32_combine(crc, segment.crc, off_t(segment.length))
            length += segment.length
        }
        var trailer = [UInt8]()
        for shift in stride(from: 0, to: 32, by: 8) { trailer.append(UInt8(truncatingIfNeeded: crc >> UInt(shift))) }
        for shift in stride(from: 0, to: 32, by: 8) { trailer.append(UInt8(truncatingIfNeeded: length >> shift)) }
        return [[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]] + segments.map(\.deflated) + [trailer]
    }

    /// Builds a non-final segment from many small pieces (a family's lines, meter by meter) without
    /// first joining them into one buffer.
    public final class SegmentBuilder {
        private let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        private var output: [UInt8] = []
        private var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        private var crc: UInt = 0
        private var length = 0

        public init(level: Int32 = 6) {
            stream.initialize(to: z_stream())
            // windowBits -15: raw deflate, no zlib or gzip framing; the framing is written by `join`.
            guard
                deflateInit2_(
                    stream,
                    level,
                    Z_DEFLATED,
                    -15,
                    8,
                    Z_DEFAULT_STRATEGY,
                    ZLIB_VERSION,
                    Int32(MemoryLayout<z_stream>.size)
                ) == Z_OK
            else { fatalError("zlib deflateInit2 failed: out of memory") }
        }

        deinit {
            deflateEnd(stream)
            stream.deallocate()
        }

        public func append(_ bytes: some Collection<UInt8>) {
            bytes.withContiguousStorageIfAvailable { run($0, flush: Z_NO_FLUSH) }
                ?? run(Array(bytes), flush: Z_NO_FLUSH)
        }

        /// The segment so far. Not `final`, it ends with a full flush (byte-aligned, no back-references),
        /// so that another segment may follow; `final`, it ends the deflate stream.
        public func finish(final: Bool = false) -> Segment {
            run([], flush: final ? Z_FINISH : Z_FULL_FLUSH)
            return Segment(deflated: output, crc: crc, length: length)
        }

        private func run(_ bytes: UnsafeBufferPointer<UInt8>, flush: Int32) {
            // crc32 with no buffer returns the initial value: skip empty input.
            if !bytes.isEmpty { crc = crc32(crc, bytes.baseAddress, UInt32(bytes.count)) }
            length += bytes.count
            stream.pointee.next_in = UnsafeMutablePointer(mutating: bytes.baseAddress)
            stream.pointee.avail_in = UInt32(bytes.count)
            chunk.withUnsafeMutableBufferPointer { outBuffer in
                repeat {
                    stream.pointee.next_out = outBuffer.baseAddress
                    stream.pointee.avail_out = UInt32(outBuffer.count)
                    _ = deflate(stream, flush)
                    output.append(contentsOf: outBuffer[0..<(outBuffer.count - Int(stream.pointee.avail_out))])
                } while stream.pointee.avail_out == 0
            }
        }

        private func run(_ bytes: [UInt8], flush: Int32) {
            bytes.withUnsafeBufferPointer { run($0, flush: flush) }
        }
    }

    /// A whole gzip member.
    public static func compress(_ bytes: [UInt8]) -> [UInt8] { join([segment(bytes, final: true)]) }

    public enum DecompressError: Error, Equatable {
        case corrupt
        case tooLarge(limit: Int)
    }

    /// Inflates gzip (or zlib) data, refusing output over `limit` bytes.
    public static func decompress(_ bytes: [UInt8], limit: Int = 16 << 20) throws(DecompressError) -> [UInt8] {
        var stream = z_stream()
        // windowBits 15 + 32: detect gzip or zlib framing automatically.
        guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corrupt
        }
        defer { inflateEnd(&stream) }
        var input = bytes
        var output = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var status = Z_OK
        input.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = UInt32(inBuffer.count)
            while status == Z_OK, output.count <= limit {
                chunk.withUnsafeMutableBufferPointer { outBuffer in
                    stream.next_out = outBuffer.baseAddress
                    stream.avail_out = UInt32(outBuffer.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    output.append(contentsOf: outBuffer[0..<(outBuffer.count - Int(stream.avail_out))])
                }
            }
        }
        if output.count > limit { throw .tooLarge(limit: limit) }
        guard status == Z_STREAM_END else { throw .corrupt }
        return output
    }
}
