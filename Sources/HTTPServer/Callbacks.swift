import CMicroHTTPD
import CShims
import MediationCore

/// libmicrohttpd's access handler. It is called at least twice per request: first when the headers are in
/// (an empty per-request context is created and the handler admits or refuses the request from its head),
/// then with each piece of the body, then once more with no data, when the whole request is there and the
/// handler answers. Nothing of a body is buffered before `admit`, nor beyond the limit it gives.
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
        let state = RequestState()
        requestContext.pointee = Unmanaged.passRetained(state).toOpaque()
        return begin(state, context: context, connection: connection, method: method, url: url)
    }
    let state = Unmanaged<RequestState>.fromOpaque(existing).takeUnretainedValue()
    if uploadSize.pointee > 0 {
        let count = uploadSize.pointee
        uploadSize.pointee = 0
        // After an early answer, whatever libmicrohttpd still reads of the body is dropped.
        guard !state.answered else { return .YES }
        if state.overflowed || count > state.limit - state.body.count {
            // A chunked body (no Content-Length) that outgrows the limit: stop keeping it, and answer now if
            // libmicrohttpd allows it mid-body, else once the rest has been read and dropped.
            state.overflowed = true
            state.body = []
            if queue(.bodyTooLarge(limit: state.limit), on: connection) == .YES {
                state.answered = true
                context.deadline.answeredEarly(connection)
            }
        } else if let uploadData {
            state.body.append(contentsOf: UnsafeRawBufferPointer(start: uploadData, count: count))
        }
        return .YES
    }
    guard !state.answered else { return .YES }
    state.answered = true
    context.deadline.requestReceived(connection)
    guard !state.overflowed, var request = state.head else {
        return queue(.bodyTooLarge(limit: state.limit), on: connection)
    }
    request.body = state.body
    state.body = []
    if let breaking = context.handler as? any BreakingHTTPHandler {
        let (response, breakoff) = breaking.handleBreaking(request)
        return queue(response, on: connection, breakoff: breakoff)
    }
    return queue(context.handler.handle(request), on: connection)
}

/// The first call for a request: its head is complete, its body (if any) not yet read.
private func begin(
    _ state: RequestState,
    context: ServerContext,
    connection: OpaquePointer,
    method: UnsafePointer<CChar>?,
    url: UnsafePointer<CChar>?
) -> MHD_Result {
    // A client that sent a body with a request answered before it is read must be given time to read the answer.
    let bodyPending =
        MHD_lookup_connection_value(connection, .HEADER_KIND, "Transfer-Encoding") != nil
        || MHD_lookup_connection_value(connection, .HEADER_KIND, "Content-Length").map { String(cString: $0) != "0" }
            ?? false
    guard context.admitsClient(of: connection) else {
        state.answered = true
        if bodyPending { context.deadline.answeredEarly(connection) }
        // Go would fail the TLS handshake; libmicrohttpd has already finished it, so answer plainly.
        let refusal = HTTPResponse.text(403, "a client certificate signed by the configured client CA is required\n")
        return queue(refusal, on: connection)
    }
    let head = HTTPRequest(
        method: method.map { String(cString: $0) } ?? "GET",
        path: url.map { String(cString: $0) } ?? "/",
        query: values(of: connection, kind: .GET_ARGUMENT_KIND).compactMapValues {
            PathEncoding.decode(Substring($0), plusAsSpace: true)
        },
        headers: values(of: connection, kind: .HEADER_KIND)
    )
    switch context.handler.admit(head) {
    case .refuse(let response):
        // Queued before the body is read: libmicrohttpd answers, leaves the upload unread and closes.
        state.answered = true
        if bodyPending { context.deadline.answeredEarly(connection) }
        return queue(response, on: connection)
    case .proceed(let maxBodyBytes):
        state.limit = min(max(0, maxBodyBytes), context.maxBodyBytes)
        if let declared = head.header("Content-Length"), !fits(declared, state.limit) {
            state.answered = true
            context.deadline.answeredEarly(connection)
            return queue(.bodyTooLarge(limit: state.limit), on: connection)
        }
        state.head = head
        return .YES
    }
}

/// Whether a Content-Length value is at most `limit`; one too large for any integer is not.
private func fits(_ declared: String, _ limit: Int) -> Bool {
    var value = 0
    for byte in declared.utf8 where byte != 32 && byte != 9 {
        guard byte >= 48, byte <= 57 else { return true }  // malformed: libmicrohttpd refuses it itself
        let (times, overflow) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflowAgain) = times.addingReportingOverflow(Int(byte - 48))
        guard !overflow, !overflowAgain else { return false }
        value = sum
    }
    return value <= limit
}

/// Frees the per-request context; the connection now waits for its next request.
let requestCompleted: MHD_RequestCompletedCallback = { cls, connection, requestContext, _ in
    if let cls, let connection {
        Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue().deadline.requestCompleted(connection)
    }
    guard let requestContext, let existing = requestContext.pointee else { return }
    Unmanaged<RequestState>.fromOpaque(existing).release()
    requestContext.pointee = nil
}

/// Connections opened and closed, for the read deadline.
let connectionEvent: MHD_NotifyConnectionCallback = { cls, connection, _, code in
    guard let cls, let connection else { return }
    let deadline = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue().deadline
    // MHD_CONNECTION_NOTIFY_STARTED and _CLOSED, whose imported Swift names vary with the Swift version.
    switch code.rawValue {
    case 0: deadline.connectionOpened(connection)
    case 1: deadline.connectionClosed(connection)
    default: break
    }
}

/// A request line is in: on a kept-alive connection, a new request has begun.
let requestLineArrived: zme_request_line_arrived = { cls, _, connection in
    guard let cls, let connection else { return nil }
    Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue().deadline.requestLineArrived(connection)
    return nil
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

private func queue(_ response: HTTPResponse, on connection: OpaquePointer, breakoff: Breakoff? = nil) -> MHD_Result {
    var limit: Int?
    switch breakoff {
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
                // A position past Int.max cannot be one of ours: end the answer with an error, not a trap.
                guard let position = Int(exactly: position) else { return contentReaderEndWithError }
                return reader.read(at: position, into: buffer, capacity: capacity)
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
    // libmicrohttpd refuses statuses outside 100...999; a handler's mistake becomes a 500, not a trap.
    let status = (100...999).contains(response.status) ? UInt32(response.status) : 500
    let result = MHD_queue_response(connection, status, created)
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
        guard !starts.isEmpty else { return contentReaderEndWithError }
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
