/// How long to wait before the next attempt after `failures` consecutive failures: exponential,
/// capped. With `jitter` in 0..<1 (full jitter) the wait is drawn from 0...the exponential value.
public func backoffDelay(failures: Int, base: Double, cap: Double, jitter: Double? = nil) -> Double {
    guard failures > 0 else { return 0 }
    let exponential = min(cap, base * Double(1 << min(failures - 1, 30)))
    guard let jitter else { return exponential }
    return exponential * jitter
}
