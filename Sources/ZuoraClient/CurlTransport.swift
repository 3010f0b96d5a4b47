import CCurl
import CShims
import Foundation
import Synchronization

/// TLS settings towards Zuora. Verification is on unless `insecureSkipVerify` is set explicitly.
public struct TLSSettings: Sendable, Equatable {
    public var caFile: String?
    public var insecureSkipVerify = false

    public init(caFile: String? = nil, insecureSkipVerify: Bool = false) {
        self.caFile = caFile
        self.insecureSkipVerify = insecureSkipVerify
    }
}

/// Runs libcurl's blocking easy interface on threads of its own, never on the Swift concurrency pool:
/// one thread and one easy handle per slot, so that `slots` requests really run at once (a concurrent
/// DispatchQueue would give about one thread per core on Linux) and each handle keeps its connection
/// alive: at most `slots` connections are ever open.
public final class CurlTransport: HTTPTransport {
    private let jobs = JobQueue()
    private let tls: TLSSettings
    private let userAgent: String
    /// Response headers worth keeping (lower case).
    private let capturedHeaders: [String]

    static let globalInit: Void = { _ = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public init(tls: TLSSettings = TLSSettings(), userAgent: String, capturedHeaders: [String], slots: Int = 4) {
        _ = Self.globalInit
        self.tls = tls
        self.userAgent = userAgent
        self.capturedHeaders = capturedHeaders
        addSlots(slots)
    }

    /// Adds worker threads (a reload may raise the concurrency; threads are never removed).
    public func addSlots(_ count: Int) {
        for _ in 0..<max(0, count) {
            let thread = Thread { [jobs, tls, userAgent, capturedHeaders] in
                let handle = CurlHandle()
                while let job = jobs.next() {
                    // A job cancelled while it waited in the queue has been answered already: skip it.
                    guard job.start() else { continue }
                    job.finish(handle.perform(job, tls: tls, userAgent: userAgent, capture: capturedHeaders))
                }
            }
            thread.name = "zuora-curl"
            thread.start()
        }
        jobs.addWorkers(count)
    }

    public var slots: Int { jobs.workers }

    /// Cancelling the calling task answers a queued request at once (it is never sent) and aborts one in
    /// flight within about a second (libcurl calls the progress callback about once a second when idle).
    public func perform(_ request: CurlRequest) async -> Result<CurlResponse, CurlFailure> {
        if let refusal = request.refusal { return .failure(CurlFailure(.refused, refusal)) }
        let job = CurlJob(request: request)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                job.attach(continuation)
                jobs.submit(job)
            }
        } onCancel: {
            job.cancel()
        }
    }
}

/// A request waiting for a worker thread or running on one, and where its result goes. The result is
/// delivered exactly once: by the worker, or by a cancellation that came while the job was still queued.
final class CurlJob: Sendable {
    private enum Phase { case queued, running, done }

    private struct State {
        var phase = Phase.queued
        var continuation: CheckedContinuation<Result<CurlResponse, CurlFailure>, Never>?
        var early: Result<CurlResponse, CurlFailure>?
    }

    let request: CurlRequest
    private let state = Mutex(State())
    /// Read by libcurl's progress callback on the worker thread.
    let cancelled = Atomic<Bool>(false)

    init(request: CurlRequest) { self.request = request }

    func attach(_ continuation: CheckedContinuation<Result<CurlResponse, CurlFailure>, Never>) {
        let early: Result<CurlResponse, CurlFailure>? = state.withLock { state in
            if let early = state.early { return early }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(returning: early) }
    }

    /// Whether a worker may run the job (false once cancelled).
    func start() -> Bool {
        state.withLock { state in
            guard state.phase == .queued, !cancelled.load(ordering: .acquiring) else { return false }
            state.phase = .running
            return true
        }
    }

    func cancel() {
        cancelled.store(true, ordering: .releasing)
        let queued = state.withLock { $0.phase == .queued }
        if queued { finish(.failure(CurlFailure(.cancelled, "cancelled before it was sent"))) }
    }

    func finish(_ result: Result<CurlResponse, CurlFailure>) {
        let continuation: CheckedContinuation<Result<CurlResponse, CurlFailure>, Never>? = state.withLock { state in
            guard state.phase != .done else { return nil }
            state.phase = .done
            guard let continuation = state.continuation else {
                state.early = result
                return nil
            }
            state.continuation = nil
            return continuation
        }
        continuation?.resume(returning: result)
    }
}

/// Jobs handed to the worker threads, first come first served. The threads block on a condition
/// variable (they are not Swift concurrency threads, so blocking is what they are for).
final class JobQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var pending: [CurlJob] = []
    private var head = 0
    private(set) var workers = 0

    func addWorkers(_ count: Int) {
        condition.lock()
        workers += count
        condition.unlock()
    }

    func submit(_ job: CurlJob) {
        condition.lock()
        pending.append(job)
        condition.signal()
        condition.unlock()
    }

    /// The next job, waiting for one.
    func next() -> CurlJob? {
        condition.lock()
        defer { condition.unlock() }
        while head == pending.count { condition.wait() }
        let job = pending[head]
        head += 1
        if head > 1024, head * 2 > pending.count {
            pending.removeFirst(head)
            head = 0
        }
        return job
    }
}

/// One libcurl easy handle; used by one thread at a time (the pool hands it out exclusively).
final class CurlHandle: @unchecked Sendable {
    private let raw: UnsafeMutableRawPointer
    private var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

    init() {
        guard let raw = curl_easy_init() else { fatalError("curl_easy_init failed: out of memory") }
        self.raw = raw
    }

    deinit { curl_easy_cleanup(raw) }

    func perform(
        _ job: CurlJob,
        tls: TLSSettings,
        userAgent: String,
        capture: [String]
    )
        -> Result<CurlResponse, CurlFailure>
    {
        let request = job.request
        // Reset drops the last request's options but keeps the connection cache.
        curl_easy_reset(raw)
        let sink = ResponseSink(limit: request.maxBodyBytes)
        var headerList: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { headerList = curl_slist_append(headerList, header) }
        defer { curl_slist_free_all(headerList) }

        zme_curl_setopt_string(raw, CURLOPT_URL, request.url)
        zme_curl_setopt_long(raw, CURLOPT_NOSIGNAL, 1)
        zme_curl_setopt_string(raw, CURLOPT_PROTOCOLS_STR, "http,https")
        zme_curl_setopt_long(raw, CURLOPT_FOLLOWLOCATION, 0)
        // Clamped to a day: a conversion of an out-of-range Double would trap.
        let timeout = request.timeout.isFinite ? min(max(request.timeout, 0.001), 86_400) : 86_400
        zme_curl_setopt_long(raw, CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
        zme_curl_setopt_long(raw, CURLOPT_CONNECTTIMEOUT_MS, Int(min(timeout, 10) * 1000))
        zme_curl_setopt_long(raw, CURLOPT_TCP_KEEPALIVE, 1)
        zme_curl_setopt_string(raw, CURLOPT_USERAGENT, userAgent)
        // Sends Accept-Encoding: gzip and inflates compressed answers; plain ones pass through.
        zme_curl_setopt_string(raw, CURLOPT_ACCEPT_ENCODING, "gzip")
        zme_curl_setopt_slist(raw, CURLOPT_HTTPHEADER, headerList)
        zme_curl_setopt_long(raw, CURLOPT_SSL_VERIFYPEER, tls.insecureSkipVerify ? 0 : 1)
        zme_curl_setopt_long(raw, CURLOPT_SSL_VERIFYHOST, tls.insecureSkipVerify ? 0 : 2)
        if let caFile = tls.caFile { zme_curl_setopt_string(raw, CURLOPT_CAINFO, caFile) }
        if request.method == "POST" {
            zme_curl_setopt_long(raw, CURLOPT_POST, 1)
            let body = request.body ?? []
            zme_curl_setopt_long(raw, CURLOPT_POSTFIELDSIZE, body.count)
            body.withUnsafeBufferPointer { buffer in
                _ = zme_curl_setopt_pointer(
                    raw,
                    CURLOPT_COPYPOSTFIELDS,
                    UnsafeMutableRawPointer(mutating: buffer.baseAddress)
                )
            }
        } else {
            zme_curl_setopt_long(raw, CURLOPT_HTTPGET, 1)
        }
        zme_curl_setopt_data_callback(raw, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            guard let context else { return 0 }
            let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
            let length = size * count
            guard let data, sink.append(UnsafeRawBufferPointer(start: data, count: length)) else { return 0 }
            return length
        }
        let unmanaged = Unmanaged.passRetained(sink)
        defer { unmanaged.release() }
        zme_curl_setopt_pointer(raw, CURLOPT_WRITEDATA, unmanaged.toOpaque())
        // The progress callback is how a cancelled task aborts a transfer in flight (NOSIGNAL rules out
        // anything signal-based); libcurl calls it at least about once a second, even while waiting.
        let progressJob = Unmanaged.passRetained(job)
        defer { progressJob.release() }
        zme_curl_setopt_long(raw, CURLOPT_NOPROGRESS, 0)
        zme_curl_setopt_pointer(raw, CURLOPT_XFERINFODATA, progressJob.toOpaque())
        zme_curl_setopt_xferinfo_callback(raw) { context, _, _, _, _ in
            guard let context else { return 0 }
            let job = Unmanaged<CurlJob>.fromOpaque(context).takeUnretainedValue()
            return job.cancelled.load(ordering: .acquiring) ? 1 : 0
        }
        errorBuffer[0] = 0
        let code = errorBuffer.withUnsafeMutableBufferPointer { buffer in
            zme_curl_setopt_pointer(raw, CURLOPT_ERRORBUFFER, buffer.baseAddress)
            let code = curl_easy_perform(raw)
            // The buffer must not outlive this scope inside libcurl.
            zme_curl_setopt_pointer(raw, CURLOPT_ERRORBUFFER, nil)
            return code
        }
        var seconds = 0.0
        zme_curl_getinfo_double(raw, CURLINFO_TOTAL_TIME, &seconds)
        guard code == CURLE_OK else {
            let detail =
                errorBuffer[0] != 0
                ? String(decoding: errorBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                : String(cString: curl_easy_strerror(code))
            switch code {
            case CURLE_OPERATION_TIMEDOUT: return .failure(CurlFailure(.timeout, detail, seconds: seconds))
            case CURLE_WRITE_ERROR where sink.overflowed:
                let text = "response body over \(request.maxBodyBytes) bytes"
                return .failure(CurlFailure(.bodyTooLarge, text, seconds: seconds))
            case CURLE_BAD_CONTENT_ENCODING: return .failure(CurlFailure(.badEncoding, detail, seconds: seconds))
            case CURLE_ABORTED_BY_CALLBACK:
                return .failure(CurlFailure(.cancelled, "cancelled while in flight", seconds: seconds))
            case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT,
                CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE:
                return .failure(CurlFailure(.unreachable, detail, seconds: seconds))
            default: return .failure(CurlFailure(.network, detail, seconds: seconds))
            }
        }
        var status = 0
        zme_curl_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &status)
        var headers: [String: String] = [:]
        for name in capture {
            var header: UnsafeMutablePointer<curl_header>?
            if curl_easy_header(raw, name, 0, UInt32(CURLH_HEADER), -1, &header) == CURLHE_OK,
                let value = header?.pointee.value
            {
                headers[name] = String(cString: value)
            }
        }
        return .success(CurlResponse(status: status, body: sink.bytes, headers: headers, seconds: seconds))
    }
}

/// Collects a response body up to a limit.
private final class ResponseSink {
    var bytes: [UInt8] = []
    var overflowed = false
    let limit: Int

    init(limit: Int) { self.limit = limit }

    func append(_ chunk: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count + chunk.count <= limit else {
            overflowed = true
            return false
        }
        bytes.append(contentsOf: chunk)
        return true
    }
}
