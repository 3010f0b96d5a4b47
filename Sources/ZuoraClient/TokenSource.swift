import Logging
import MediationCore
import Synchronization

/// Holds the OAuth access token. Concurrent polls share one token and one in-flight fetch (a "flight").
/// After a failed fetch the next one waits out a growing back-off, so a dead token endpoint is not
/// hammered; callers wait with it (cancellably) rather than failing without a request of their own.
///
/// Cancellation: a waiter that is cancelled returns at once; when it was the flight's last waiter, the
/// flight is cancelled too (its gate wait or transfer ends). A credentials change supersedes the flight:
/// its token, fetched with the old credentials, is discarded and its waiters start a new flight.
final class TokenSource: Sendable {
    typealias Fetch = @Sendable (ZuoraCredentials) async -> Result<FetchedToken, TokenFailure>

    private enum Outcome {
        case token(String)
        case failure(TokenFailure)
        case superseded
        case cancelled
    }

    private struct Flight {
        let id: Int
        var task: Task<Void, Never>?
        var waiters: [Int: CheckedContinuation<Outcome, Never>] = [:]
    }

    private struct State {
        var credentials: ZuoraCredentials
        var current: FetchedToken?
        var flight: Flight?
        var nextId = 0
        /// Waiters cancelled before they registered.
        var cancelledWaiters: Set<Int> = []
        var consecutiveFailures = 0
        /// No token request before this (back-off after failures).
        var notBefore = 0.0
    }

    private let state: Mutex<State>
    private let clock: any MonotonicClock
    private let logger: Logger
    private let installed: @Sendable (FetchedToken) -> Void

    init(
        credentials: ZuoraCredentials,
        clock: any MonotonicClock,
        logger: Logger,
        installed: @escaping @Sendable (FetchedToken) -> Void = { _ in }
    ) {
        self.state = Mutex(State(credentials: credentials))
        self.clock = clock
        self.logger = logger
        self.installed = installed
    }

    /// New credentials (reload), in force when this returns. The cached token goes, and a fetch in flight
    /// is abandoned: whatever it brings back is never installed. Unchanged credentials keep the token
    /// unless `force` (e.g. another base URL).
    func replaceCredentials(_ new: ZuoraCredentials, force: Bool = false) {
        let flight: Flight? = state.withLock { state in
            guard force || new != state.credentials else { return nil }
            state.credentials = new
            state.current = nil
            state.consecutiveFailures = 0
            state.notBefore = 0
            defer { state.flight = nil }
            return state.flight
        }
        flight?.task?.cancel()
        for waiter in flight.map({ Array($0.waiters.values) }) ?? [] { waiter.resume(returning: .superseded) }
    }

    /// Forgets `token` after Zuora refused it, unless a newer one already replaced it.
    func invalidate(_ token: String) {
        state.withLock { state in
            if state.current?.token == token { state.current = nil }
        }
    }

    /// A valid token: the cached one, or one from a fetch (shared with concurrent callers).
    func token(fetch: @escaping Fetch) async -> Result<String, TokenFailure> {
        while true {
            switch await wait(fetch) {
            case .token(let token): return .success(token)
            case .failure(let failure): return .failure(failure)
            case .cancelled: return .failure(.cancelled)
            case .superseded:
                // The credentials changed while the token was fetched: fetch again with the new ones.
                if Task.isCancelled { return .failure(.cancelled) }
            }
        }
    }

    private func wait(_ fetch: @escaping Fetch) async -> Outcome {
        let id = state.withLock { state in
            defer { state.nextId += 1 }
            return state.nextId
        }
        let outcome = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                let immediate: Outcome? = state.withLock { state in
                    if state.cancelledWaiters.remove(id) != nil { return .cancelled }
                    if let current = state.current, !current.policy.needsRefresh(now: clock.now()) {
                        return .token(current.token)
                    }
                    if state.flight == nil { state.flight = startFlight(&state, fetch) }
                    state.flight?.waiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter: CheckedContinuation<Outcome, Never>? = state.withLock { state in
                guard var flight = state.flight, let waiter = flight.waiters.removeValue(forKey: id) else {
                    state.cancelledWaiters.insert(id)
                    return nil
                }
                if flight.waiters.isEmpty {
                    // Nobody wants this token any more: stop waiting in the gate or abort the transfer.
                    flight.task?.cancel()
                    state.flight = nil
                } else {
                    state.flight = flight
                }
                return waiter
            }
            waiter?.resume(returning: .cancelled)
        }
        state.withLock { _ = $0.cancelledWaiters.remove(id) }
        return outcome
    }

    /// Starts a fetch with the current credentials (called under the lock).
    private func startFlight(_ state: inout State, _ fetch: @escaping Fetch) -> Flight {
        let id = state.nextId
        state.nextId += 1
        let credentials = state.credentials
        let notBefore = state.notBefore
        let clock = self.clock
        let task = Task {
            do {
                try await clock.sleep(until: notBefore)
            } catch {
                return self.complete(id, .failure(.cancelled))
            }
            self.complete(id, await fetch(credentials))
        }
        return Flight(id: id, task: task)
    }

    private func complete(_ flightId: Int, _ result: Result<FetchedToken, TokenFailure>) {
        let (waiters, outcome, streak): ([CheckedContinuation<Outcome, Never>], Outcome, Int?) = state.withLock {
            state in
            // Cancelled, or superseded by new credentials: the result must not be installed.
            guard let flight = state.flight, flight.id == flightId else { return ([], .cancelled, nil) }
            state.flight = nil
            switch result {
            case .success(let fresh):
                state.current = fresh
                defer { state.consecutiveFailures = 0 }
                state.notBefore = 0
                return (Array(flight.waiters.values), .token(fresh.token), -state.consecutiveFailures)
            case .failure(let failure):
                state.consecutiveFailures += 1
                // Short: the poller's tenant pause paces token attempts (one probe at a time, at most half a poll
                // interval apart); this only keeps a burst of waiters from becoming a burst of requests.
                state.notBefore = clock.now() + backoffDelay(failures: state.consecutiveFailures, base: 1, cap: 4)
                return (Array(flight.waiters.values), .failure(failure), state.consecutiveFailures)
            }
        }
        if case .token = outcome, case .success(let fresh) = result { installed(fresh) }
        // Logged once per failure streak, not per poll.
        if case .failure(let failure) = result, streak == 1 {
            logger.warning(
                "Zuora token request failed; polls fail until a token request succeeds",
                metadata: ["reason": "\(failure.reason.rawValue)", "error": "\(failure.message)"]
            )
        } else if let streak, streak < 0 {
            logger.info("Zuora token request succeeds again", metadata: ["failures": "\(-streak)"])
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
    }
}

/// A token and when to refresh it.
struct FetchedToken: Sendable, Equatable {
    let token: String
    let policy: TokenPolicy
}

/// Why no token could be had: the poll error reason and a message (never the secret).
struct TokenFailure: Error, Sendable, Equatable {
    let reason: PollErrorReason
    let message: String

    static let cancelled = TokenFailure(reason: .network, message: "cancelled while waiting for a token")
}
