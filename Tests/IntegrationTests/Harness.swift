import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Where `swift build` put the executables: next to the test bundle, or $ZME_BIN_DIR.
let binDirectory: URL = {
    if let dir = ProcessInfo.processInfo.environment["ZME_BIN_DIR"] { return URL(fileURLWithPath: dir) }
    var url = Bundle.main.bundleURL
    while !FileManager.default.fileExists(atPath: url.appendingPathComponent("zuora-mediation-exporter").path),
        url.path != "/"
    {
        url.deleteLastPathComponent()
    }
    return url
}()

/// A port nobody listens on right now (bound to 0, then released).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            _ = bind(fd, pointer, length)
            return getsockname(fd, pointer, &length)
        }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A child process whose output goes to a log file; terminated when the test is done with it.
final class ManagedProcess: @unchecked Sendable {
    let process = Process()
    let logURL: URL

    init(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        directory: URL? = nil
    ) throws {
        let path = executable.hasPrefix("/") ? executable : binDirectory.appendingPathComponent(executable).path
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        if let directory { process.currentDirectoryURL = directory }
        logURL = FileManager.default.temporaryDirectory.appendingPathComponent("zme-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let handle = try FileHandle(forWritingTo: logURL)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM and waits; returns the exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM) -> Int32 {
        if process.isRunning {
            kill(process.processIdentifier, signal)
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning, Date() < deadline { usleep(20_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

struct HTTPResult {
    var status: Int
    var body: String
    var headers: [String: String]
}

/// One request through the curl command-line tool (a real client on a real socket).
@discardableResult
func http(
    _ method: String = "GET",
    _ url: String,
    body: String? = nil,
    headers: [String] = [],
    extra: [String] = []
) -> HTTPResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    let headerFile = FileManager.default.temporaryDirectory.appendingPathComponent("zme-h-\(UUID().uuidString)")
    var arguments =
        ["-s", "-X", method, "-D", headerFile.path, "-w", "\n%{http_code}", "--max-time", "15", url] + extra
    for header in headers { arguments += ["-H", header] }
    if let body { arguments += ["--data-binary", body] }
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try? process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let output = String(decoding: data, as: UTF8.self)
    let split = output.range(of: "\n", options: .backwards)
    let status = split.map { Int(output[$0.upperBound...]) ?? 0 } ?? 0
    var headerMap: [String: String] = [:]
    let rawHeaders = (try? String(contentsOf: headerFile, encoding: .utf8)) ?? ""
    try? FileManager.default.removeItem(at: headerFile)
    for line in rawHeaders.split(separator: "\r\n") {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headerMap[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return HTTPResult(
        status: status,
        body: split.map { String(output[..<$0.lowerBound]) } ?? output,
        headers: headerMap
    )
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Double = 15, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(100_000)
    }
    return condition()
}

/// A self-signed certificate for 127.0.0.1 in `directory`: (certificate path, key path).
func makeCertificate(in directory: URL) throws -> (cert: String, key: String) {
    let cert = directory.appendingPathComponent("cert.pem").path
    let key = directory.appendingPathComponent("key.pem").path
    let made = try runTool(
        "/usr/bin/openssl",
        [
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ]
    )
    try #require(made.status == 0, "\(made.output)")
    return (cert, key)
}

/// A new file under the temporary directory holding `secret`, for `client_secret_file`; the caller removes it.
func temporarySecretFile(holding secret: String) throws -> URL {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("zme-secret-\(UUID().uuidString)")
    try secret.write(to: file, atomically: true, encoding: .utf8)
    return file
}
