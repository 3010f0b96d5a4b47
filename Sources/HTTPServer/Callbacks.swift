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

private func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
    let created = response.body.withUnsafeBytes { buffer in
        MHD_create_response_from_buffer(buffer.count, UnsafeMutableRawPointer(mutating: buffer.baseAddress), mustCopy)
    }
    guard let created else { return .NO }
    for (name, value) in response.headers { MHD_add_response_header(created, name, value) }
    let result = MHD_queue_response(connection, UInt32(response.status), created)
    MHD_destroy_response(created)
    return result
}
