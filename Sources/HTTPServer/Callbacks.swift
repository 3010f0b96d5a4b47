import CMicroHTTPD
import MediationCore

/// libmicrohttpd's access handler. It is called at least twice per request: first to set up (an empty
/// per-request context is created), then with each piece of the body, then once more with no data, when
/// the whole request is there and the handler answers.
let accessHandler: MHD_AccessHandlerCallback = {
    cls,
    connection,
    url,
    method,
    _,
    uploadData,
    uploadSize,
    requestContext in
    guard let cls, let connection, let requestContext, let uploadSize else { return .NO }
    let context = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()
    guard let existing = requestContext.pointee else {
        requestContext.pointee = Unmanaged.passRetained(RequestBody()).toOpaque()
        guard context.admitsClient(of: connection) else {
            // Go would fail the TLS handshake; libmicrohttpd has already finished it, so answer plainly.
            return queue(
                .text(403, "a client certificate signed by the configured client CA is required\n"),
                on: connection
            )
        }
        return .YES
    }
    let body = Unmanaged<RequestBody>.fromOpaque(existing).takeUnretainedValue()
    if uploadSize.pointee > 0 {
        let count = uploadSize.pointee
        if body.bytes.count + count > context.maxBodyBytes {
            body.overflowed = true
        } else if let uploadData {
            body.bytes.append(contentsOf: UnsafeRawBufferPointer(start: uploadData, count: count))
        }
        uploadSize.pointee = 0
        return .YES
    }
    let response: HTTPResponse
    if body.overflowed {
        response = .json(413, #"{"error":"request body over \#(context.maxBodyBytes) bytes"}"#)
    } else {
        let request = HTTPRequest(
            method: method.map { String(cString: $0) } ?? "GET",
            path: url.map { String(cString: $0) } ?? "/",
            query: values(of: connection, kind: .GET_ARGUMENT_KIND).compactMapValues {
                PathEncoding.decode(Substring($0), plusAsSpace: true)
            },
            headers: values(of: connection, kind: .HEADER_KIND),
            body: body.bytes
        )
        response = context.handler.handle(request)
    }
    return queue(response, on: connection)
}

/// Frees the per-request context.
let requestCompleted: MHD_RequestCompletedCallback = { _, _, requestContext, _ in
    guard let requestContext, let existing = requestContext.pointee else { return }
    Unmanaged<RequestBody>.fromOpaque(existing).release()
    requestContext.pointee = nil
}

private final class ValueCollector {
    var values: [String: String] = [:]
}

private func values(of connection: OpaquePointer, kind: MHD_ValueKind) -> [String: String] {
    let collector = ValueCollector()
    let pointer = Unmanaged.passUnretained(collector).toOpaque()
    _ = MHD_get_connection_values(
        connection,
        kind,
        { cls, _, key, value in
            guard let cls, let key else { return .YES }
            let collector = Unmanaged<ValueCollector>.fromOpaque(cls).takeUnretainedValue()
            collector.values[String(cString: key)] = value.map { String(cString: $0) } ?? ""
            return .YES
        },
        pointer
    )
    return withExtendedLifetime(collector) { collector.values }
}

/// MHD_RESPMEM_MUST_COPY, whose imported Swift name varies with the Swift version.
private let mustCopy = MHD_ResponseMemoryMode(rawValue: 2)!

/// Bodies up to this size are copied into libmicrohttpd at once; larger ones are streamed from their parts.
private let streamThreshold = 64 * 1024

/// MHD_CONTENT_READER_END_WITH_ERROR (a cast macro, which Swift does not import): libmicrohttpd closes the
/// connection short of the announced Content-Length.
private let contentReaderEndWithError = -2

private func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
    var limit: Int?
    switch response.breakoff {
    case .closeWithoutAnswer?:
        // Returning MHD_NO makes libmicrohttpd close the connection without answering.
        return .NO
    case .truncateBody(let after)?:
        limit = max(0, after)
    case nil:
        break
    }
    let created: OpaquePointer?
    if response.bodyCount <= streamThreshold, limit == nil, response.source == nil {
        created = response.body.withUnsafeBytes { buffer in
            MHD_create_response_from_buffer(
                buffer.count,
                UnsafeMutableRawPointer(mutating: buffer.baseAddress),
                mustCopy
            )
        }
    } else {
        // A large body (/metrics of a big fleet) is read from the shared parts as the socket takes it:
        // no joined copy, and no copy of the whole inside libmicrohttpd.
        let reader = Unmanaged.passRetained(BodyReader(response, limit: limit)).toOpaque()
        created = MHD_create_response_from_callback(
            UInt64(response.bodyCount),
            256 * 1024,
            { context, position, buffer, capacity in
                guard let context, let buffer else { return -1 }
                let reader = Unmanaged<BodyReader>.fromOpaque(context).takeUnretainedValue()
                return reader.read(at: Int(position), into: buffer, capacity: capacity)
            },
            reader,
            { context in
                guard let context else { return }
                Unmanaged<BodyReader>.fromOpaque(context).release()
            }
        )
        if created == nil { Unmanaged<BodyReader>.fromOpaque(reader).release() }
    }
    guard let created else { return .NO }
    for (name, value) in response.headers { MHD_add_response_header(created, name, value) }
    let result = MHD_queue_response(connection, UInt32(response.status), created)
    MHD_destroy_response(created)
    return result
}

/// Serves a body made of parts to libmicrohttpd's content reader, by absolute position; with a `limit`,
/// only that many bytes, then an error that breaks the connection off (a truncated answer).
private final class BodyReader {
    private let parts: [[UInt8]]
    private let source: (any BodySource)?
    private let starts: [Int]
    private let limit: Int?

    init(_ response: HTTPResponse, limit: Int? = nil) {
        self.parts = response.bodyParts
        self.source = response.source
        self.limit = limit
        var offset = 0
        starts = parts.map { part in
            defer { offset += part.count }
            return offset
        }
    }

    func read(at position: Int, into buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        var capacity = capacity
        if let limit {
            guard position < limit else { return contentReaderEndWithError }
            capacity = min(capacity, limit - position)
        }
        if let source {
            return source.read(at: position, into: UnsafeMutableRawBufferPointer(start: buffer, count: capacity))
        }
        var written = 0
        var index = starts.lastIndex { $0 <= position } ?? 0
        var offset = position - starts[index]
        while written < capacity, index < parts.count {
            let part = parts[index]
            let count = min(part.count - offset, capacity - written)
            if count > 0 {
                part.withUnsafeBytes { bytes in
                    (buffer + written).withMemoryRebound(to: UInt8.self, capacity: count) { target in
                        target.update(
                            from: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset,
                            count: count
                        )
                    }
                }
                written += count
            }
            index += 1
            offset = 0
        }
        return written
    }
}
