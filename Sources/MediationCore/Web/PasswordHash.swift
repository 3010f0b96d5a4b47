import CCrypt
import Synchronization
import Yams

#if canImport(Glibc)
import Glibc
#endif

/// bcrypt verification through the system's libxcrypt (never hand-written). Successful checks are
/// cached (keyed by an HMAC of user, password and hash) because bcrypt costs tens of milliseconds by
/// design and Prometheus scrapes with the same credentials every few seconds. Checks that miss the cache
/// run at most `maxConcurrentChecks` at once: a flood of wrong passwords is refused (`busy`) instead of
/// taking every server thread, so scrapes with a cached credential stay fast.
public final class PasswordHash: Sendable {
    public enum Verdict: Sendable, Equatable {
        case match, mismatch
        /// Too many checks are running; nothing was checked.
        case busy
    }

    private let cacheKey: [UInt8]
    private let verified = Mutex<Set<[UInt8]>>([])
    private let running = Atomic<Int>(0)
    public let maxConcurrentChecks: Int

    public init(maxConcurrentChecks: Int = 2) {
        var key = [UInt8](repeating: 0, count: 32)
        for index in key.indices { key[index] = UInt8.random(in: 0...255) }
        cacheKey = key
        self.maxConcurrentChecks = max(1, maxConcurrentChecks)
    }

    public static func isBcrypt(_ hash: String) -> Bool {
        ["$2y$", "$2b$", "$2a$"].contains { hash.hasPrefix($0) } && hash.utf8.count == 60
    }

    /// Whether `password` matches the bcrypt `hash`.
    public func verify(user: [UInt8], password: [UInt8], hash: String) -> Verdict {
        let key = Signatures.hmacSHA256(
            key: cacheKey,
            message: user + [0] + password + [0] + Array(hash.utf8)
        )
        if verified.withLock({ $0.contains(key) }) { return .match }
        guard running.wrappingAdd(1, ordering: .acquiringAndReleasing).newValue <= maxConcurrentChecks else {
            running.wrappingSubtract(1, ordering: .acquiringAndReleasing)
            return .busy
        }
        let matches = Self.check(password: password, hash: hash)
        running.wrappingSubtract(1, ordering: .acquiringAndReleasing)
        guard matches else { return .mismatch }
        verified.withLock { cache in
            if cache.count >= 1024 { cache.removeAll() }
            cache.insert(key)
        }
        return .match
    }

    /// crypt(3) reads a C string: callers refuse passwords holding a NUL before they get here.
    static func check(password: [UInt8], hash: String) -> Bool {
        guard !password.contains(0) else { return false }
        var data: UnsafeMutableRawPointer?
        var size: Int32 = 0
        defer { free(data) }
        let terminated = password.map { CChar(bitPattern: $0) } + [0]
        guard let result = crypt_ra(terminated, hash, &data, &size) else { return false }
        let computed = Array(String(cString: result).utf8)
        // A failed hash comes back as "*0" or "*1": never equal to a real hash.
        return Signatures.constantTimeEqual(computed, Array(hash.utf8))
    }
}
