import Foundation
import Logging
import MediationCore

/// The standard process series every Prometheus client library exposes, read from /proc on each
/// scrape. Hand-written because swift-prometheus does not provide them.
enum ProcessMetrics {
    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
    private static let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
    private static let bootTime: Double = {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return 0 }
        let line = stat.split(separator: "\n").first { $0.hasPrefix("btime ") }
        return line.flatMap { Double($0.dropFirst(6)) } ?? 0
    }()

    static func render() -> [UInt8] {
        var out = [UInt8]()
        // Fields after the command name (which may contain spaces) in /proc/self/stat; see proc(5).
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            // fields[0] is field 3 (state): utime is field 14, stime 15, starttime 22, vsize 23, rss 24.
            func field(_ number: Int) -> Double { fields.count > number - 3 ? Double(fields[number - 3]) ?? 0 : 0 }
            append(
                &out,
                "process_cpu_seconds_total",
                "counter",
                "Total user and system CPU time spent in seconds.",
                (field(14) + field(15)) / ticksPerSecond
            )
            append(
                &out,
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
                bootTime + field(22) / ticksPerSecond
            )
            append(&out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", field(23))
            append(
                &out,
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                field(24) * pageSize
            )
        }
        if let count = openDescriptors() {
            append(&out, "process_open_fds", "gauge", "Number of open file descriptors.", Double(count))
        }
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            append(&out, "process_max_fds", "gauge", "Maximum number of open file descriptors.", Double(limit.rlim_cur))
        }
        return out
    }

    /// Entries of /proc/self/fd, counted with readdir: a scrape with thousands of open connections must
    /// not build thousands of strings.
    private static func openDescriptors() -> Int? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != UInt8(ascii: ".") { count += 1 }
        }
        // The descriptor opendir itself holds is not the process's.
        return max(0, count - 1)
    }

    private static func append(_ out: inout [UInt8], _ name: String, _ type: String, _ help: String, _ value: Double) {
        out += Exposition.header(name: name, type: type, help: help)
        Exposition.appendSample(name, labels: [], value: value, to: &out)
    }
}

enum ProcessLimits {
    /// Raises the soft limit on open files to the hard one: each scraper, idle client and Zuora
    /// connection is a descriptor, and 1,024 (the usual soft limit) is too few for --web.max-connections.
    static func raiseOpenFiles(logger: Logger) {
        var limit = rlimit()
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max
        else { return }
        limit.rlim_cur = limit.rlim_max
        if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) != 0 {
            logger.warning("could not raise the open-files limit", metadata: ["hard_limit": "\(limit.rlim_max)"])
        }
    }
}
