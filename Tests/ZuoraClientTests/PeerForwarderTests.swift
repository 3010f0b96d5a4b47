import Foundation
import MediationCore
import Synchronization
import Testing

@testable import ZuoraClient

#if canImport(Glibc)
import Glibc
#endif

/// The libcurl forwarder against loopback sockets: a silent peer is given up on after the timeout, a
/// busy forwarder refuses at once, hostile header values are never sent.
@Suite struct PeerForwarderTests {
    /// A socket that listens on loopback and never accepts: connections complete (the kernel's backlog)
    /// and then hear nothing, as from a peer that hangs.
    final class SilentPeer: Sendable {
        let fd: Int32
        let port: Int

        init() {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                    _ = bind(fd, pointer, length)
                    return getsockname(fd, pointer, &length)
                }
            }
            _ = listen(fd, 16)
            self.fd = fd
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        deinit { close(fd) }
    }

    static func callout() -> HTTPRequest {
        HTTPRequest(
            method: "POST",
            path: "/webhooks/meter-session-status",
            headers: ["Content-Type": "application/json", "Zuora-Notification-Id": "n-1"],
            body: Array(#"{"meterId":1}"#.utf8)
        )
    }

    @Test func theTemplateIsExpandedAnywhereAndTheCalloutPathAppended() {
        let forwarder = PeerForwarder(template: "http://127.0.0.1:960{shard}/", userAgent: "t")
        #expect(forwarder.baseURL(forShard: 2) == "http://127.0.0.1:9602")
        let named = PeerForwarder(template: "http://exp-{shard}.exp-headless:9817", userAgent: "t")
        #expect(named.baseURL(forShard: 11) == "http://exp-11.exp-headless:9817")
    }

    @Test func aSilentPeerIsUnreachableAfterTheTimeout() {
        let peer = SilentPeer()
        // The whole port stands for {shard}: the template may put it anywhere.
        let silent = PeerForwarder(template: "http://127.0.0.1:{shard}", userAgent: "t", timeout: 0.5)
        let started = Date()
        let outcome = silent.forward(Self.callout(), toShard: peer.port)
        let elapsed = Date().timeIntervalSince(started)
        guard case .unreachable = outcome else {
            Issue.record("answered: \(outcome)")
            return
        }
        #expect(elapsed >= 0.4 && elapsed < 3, "gave up after \(elapsed) s")
    }

    @Test func aClosedPortIsUnreachableAtOnce() {
        let port = SilentPeer().port  // closed again when the peer is released
        let forwarder = PeerForwarder(template: "http://127.0.0.1:{shard}", userAgent: "t", timeout: 5)
        let started = Date()
        guard case .unreachable = forwarder.forward(Self.callout(), toShard: port) else {
            Issue.record("answered")
            return
        }
        #expect(Date().timeIntervalSince(started) < 2)
    }

    @Test func forwardsBeyondTheLimitAreRefusedAtOnce() {
        let peer = SilentPeer()
        let forwarder = PeerForwarder(template: "http://127.0.0.1:{shard}", userAgent: "t", timeout: 2, maxInFlight: 1)
        let port = peer.port
        let holding = Thread { _ = forwarder.forward(Self.callout(), toShard: port) }
        holding.start()
        // Until the first forward holds the only slot. Waits on this thread, not with Task.sleep: while other
        // tests block the concurrency pool's threads, a Task.sleep of 5 ms was seen to last 10 s.
        let deadline = Date().addingTimeInterval(10)
        while forwarder.forwardsInFlight == 0, Date() < deadline { usleep(5000) }
        #expect(forwarder.forwardsInFlight == 1, "the first forward holds the only slot")
        let started = Date()
        let outcome = forwarder.forward(Self.callout(), toShard: peer.port)
        #expect(outcome == .unreachable(reason: "1 forwards in flight already"))
        #expect(Date().timeIntervalSince(started) < 0.5)
    }

    @Test func headerValuesWithCRLFOrNULAreNeverSent() {
        let peer = SilentPeer()
        let forwarder = PeerForwarder(template: "http://127.0.0.1:{shard}", userAgent: "t", timeout: 2)
        for value in ["a\r\nEvil: 1", "a\nb", "a\0b"] {
            var request = Self.callout()
            request.headers["zuora-notification-id"] = value
            guard case .unreachable(let reason) = forwarder.forward(request, toShard: peer.port) else {
                Issue.record("sent \(value.debugDescription)")
                continue
            }
            #expect(reason.contains("CR, LF or NUL"))
        }
    }
}
