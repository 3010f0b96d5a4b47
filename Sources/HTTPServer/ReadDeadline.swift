import CMicroHTTPD
import CShims
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The read deadline: a request (request line, headers, body) must have arrived in full within `timeout` of
/// its start, however steadily its bytes trickle in. libmicrohttpd's idle timeout restarts on every byte, so
/// a slowloris client that sends one byte every few seconds would hold its connection forever.
///
/// Connections are tracked from libmicrohttpd's notifications; a watchdog thread shuts down the socket of a
/// connection whose request is overdue. An answered connection, and one idle between keep-alive requests, is
/// left to the idle timeout: neither a slow reader of a large answer nor a scraper between scrapes is cut.
final class ReadDeadline: Sendable {
    private enum Phase {
        /// A request is arriving; it started then (monotonic nanoseconds).
        case receiving(since: UInt64)
        /// The request is in: the handler is answering, or the answer is being sent.
        case answering
        /// Between keep-alive requests since then.
        case idle(since: UInt64)
        /// Shut down by the watchdog; libmicrohttpd has yet to notice.
        case cut
    }

    private struct Entry {
        var fd: Int32
        var phase: Phase
        /// Answered before its body was read: the client may still be sending it.
        var lingers = false
    }

    /// A closed connection's socket kept open a little longer (a duplicate descriptor), its input dropped.
    private struct Lingering {
        var fd: Int32
        var until: UInt64
        var budget: Int
    }

    /// Keyed by the connection's address. Entries leave under this lock on libmicrohttpd's CLOSED
    /// notification, which comes before it closes the socket: the watchdog never shuts a reused descriptor.
    private let entries = Mutex<[UInt: Entry]>([:])
    private let timeout: UInt64
    /// Closing a socket with unread input makes the kernel send a reset, and a client still sending its body
    /// then loses the answer it was sent (a 401, a 413): as Go's server does, such sockets are closed only
    /// once the client has stopped, or after a while.
    private let lingering = Mutex<[Lingering]>([])
    private static let lingerNanos: UInt64 = 2_000_000_000
    private static let lingerBytes = 4 << 20
    private static let maxLingering = 256
    private let stopping = Atomic<Bool>(false)
    private let watchdog = Mutex<pthread_t?>(nil)
    /// Connections accepted since start (keep-alive connections count once).
    let opened = Atomic<Int>(0)

    /// Bytes that arrive this soon after an answer was sent belong to it (clock granularity), not to a new request.
    private static let idleMargin: UInt64 = 50_000_000
    private static let tickMicroseconds: UInt32 = 100_000

    init(timeoutSeconds: Double) {
        let nanos = timeoutSeconds * 1e9
        // Clamped, not converted: a settings value out of range must not trap.
        timeout = nanos.isFinite && nanos > 0 ? (nanos < 1e18 ? UInt64(nanos) : 1_000_000_000_000_000_000) : 1
    }

    func connectionOpened(_ connection: OpaquePointer) {
        opened.add(1, ordering: .relaxed)
        let fd = zme_mhd_connection_fd(connection)
        let now = monotonicNanos()
        // The first request's time runs from the accept (a TLS handshake included), as Go's ReadTimeout does.
        entries.withLock { $0[key(connection)] = Entry(fd: fd, phase: .receiving(since: now)) }
    }

    func connectionClosed(_ connection: OpaquePointer) {
        guard let entry = entries.withLock({ $0.removeValue(forKey: key(connection)) }), entry.lingers, entry.fd >= 0
        else { return }
        if case .cut = entry.phase { return }
        let until = monotonicNanos() + Self.lingerNanos
        lingering.withLock { lingering in
            guard lingering.count < Self.maxLingering else { return }
            let copy = dup(entry.fd)
            guard copy >= 0 else { return }
            // The answer is out; the end of it follows, then only input is awaited.
            shutdown(copy, Int32(SHUT_WR))
            lingering.append(Lingering(fd: copy, until: until, budget: Self.lingerBytes))
        }
    }

    /// An answer was queued before the request's body was read (a refusal, a 413).
    func answeredEarly(_ connection: OpaquePointer) {
        entries.withLock { $0[key(connection)]?.lingers = true }
    }

    /// Drops what lingering sockets received; closes those whose client is done, or whose time is up.
    private func drainLingering(now: UInt64) {
        lingering.withLock { lingering in
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            lingering = lingering.compactMap { socket in
                var socket = socket
                var ended = now >= socket.until
                while !ended {
                    let read = recv(socket.fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                    guard read > 0 else {
                        ended = read == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)
                        break
                    }
                    socket.budget -= read
                    ended = socket.budget <= 0
                }
                if ended { close(socket.fd) }
                return ended ? nil : socket
            }
        }
    }

    /// libmicrohttpd has the request line of a further request on a kept-alive connection.
    func requestLineArrived(_ connection: OpaquePointer) {
        let now = monotonicNanos()
        entries.withLock { entries in
            guard var entry = entries[key(connection)] else { return }
            switch entry.phase {
            case .idle, .answering: entry.phase = .receiving(since: now)
            case .receiving, .cut: return
            }
            entries[key(connection)] = entry
        }
    }

    /// The whole request is in: from now on the connection is answering, however slowly the client reads.
    func requestReceived(_ connection: OpaquePointer) {
        setPhase(.answering, of: connection)
    }

    /// The answer has been sent (or the request abandoned): the connection waits for the next request.
    func requestCompleted(_ connection: OpaquePointer) {
        setPhase(.idle(since: monotonicNanos()), of: connection)
    }

    private func setPhase(_ phase: Phase, of connection: OpaquePointer) {
        entries.withLock { entries in
            guard entries[key(connection)] != nil else { return }
            if case .cut = entries[key(connection)]?.phase { return }
            entries[key(connection)]?.phase = phase
        }
    }

    private func key(_ connection: OpaquePointer) -> UInt { UInt(bitPattern: Int(bitPattern: connection)) }

    /// Shuts down overdue connections; notices kept-alive connections on which a new request has begun.
    func sweep() {
        let now = monotonicNanos()
        entries.withLock { entries in
            for (key, entry) in entries {
                switch entry.phase {
                case .receiving(let since) where now &- since > timeout && entry.fd >= 0:
                    // libmicrohttpd sees the end of the stream and closes the connection itself.
                    shutdown(entry.fd, Int32(SHUT_RDWR))
                    entries[key]?.phase = .cut
                case .idle(let since) where entry.fd >= 0:
                    // A request line trickled in byte by byte reaches libmicrohttpd's request-line callback only
                    // once complete; the kernel knows when data last came in.
                    guard let lastData = lastDataReceived(entry.fd, now: now), lastData > since + Self.idleMargin
                    else { continue }
                    entries[key]?.phase = .receiving(since: lastData)
                default:
                    continue
                }
            }
        }
    }

    /// When the socket last received data (monotonic nanoseconds), from TCP_INFO.
    private func lastDataReceived(_ fd: Int32, now: UInt64) -> UInt64? {
        var info = tcp_info()
        var length = socklen_t(MemoryLayout<tcp_info>.size)
        guard getsockopt(fd, Int32(IPPROTO_TCP), TCP_INFO, &info, &length) == 0 else { return nil }
        let ago = UInt64(info.tcpi_last_data_recv) * 1_000_000
        return ago < now ? now - ago : 0
    }

    func start() {
        let retained = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let created = pthread_create(
            &thread,
            nil,
            { argument in
                guard let argument else { return nil }
                let deadline = Unmanaged<ReadDeadline>.fromOpaque(argument).takeRetainedValue()
                while !deadline.stopping.load(ordering: .acquiring) {
                    usleep(ReadDeadline.tickMicroseconds)
                    deadline.sweep()
                    deadline.drainLingering(now: monotonicNanos())
                }
                deadline.drainLingering(now: .max)
                return nil
            },
            retained
        )
        if created == 0 {
            watchdog.withLock { $0 = thread }
        } else {
            Unmanaged<ReadDeadline>.fromOpaque(retained).release()
        }
    }

    func stop() {
        stopping.store(true, ordering: .releasing)
        if let thread = watchdog.withLock({ $0.take() }) { pthread_join(thread, nil) }
    }
}

func monotonicNanos() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}
