import Foundation
import Testing

/// The deployment files agree with the exporter they deploy: their configurations validate, and every
/// flag they pass exists.
struct DeploymentTests {
    let exporter = binDirectory.appendingPathComponent("zuora-mediation-exporter").path

    /// Validates `yaml` with --config.check after pointing its secret files at readable temporary files.
    func check(_ yaml: String) throws -> ToolResult {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("zme-deploy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var text = yaml
        for path in Set(yaml.matches(of: /_file:\s*(\S+)/).map { String($0.1) }) {
            let local = directory.appendingPathComponent(UUID().uuidString).path
            try "value".write(toFile: local, atomically: true, encoding: .utf8)
            text = text.replacingOccurrences(of: path, with: local)
        }
        let config = directory.appendingPathComponent("config.yml")
        try text.write(to: config, atomically: true, encoding: .utf8)
        return try runTool(exporter, ["--config.file", config.path, "--config.check"])
    }

    @Test func theExampleConfigurationIsValid() throws {
        let result = try check(try String(contentsOfFile: "deploy/config.example.yml", encoding: .utf8))
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func theKubernetesExampleConfigurationIsValid() throws {
        // The file the overlays' configMapGenerator turns into the ConfigMap.
        let result = try check(try String(contentsOfFile: "deploy/kubernetes/example/config.yml", encoding: .utf8))
        #expect(result.status == 0, "\(result.output)")
    }

    /// Renders every overlay under deploy/kubernetes/overlays with `kubectl kustomize` and checks the objects
    /// against this exporter: flags, ports, shards against replicas, the peer template against the headless
    /// Service, the generated ConfigMap (referenced by the pods, passing --config.check). The script's output
    /// names what fails, e.g. a flag the exporter does not have yet.
    @Test func theKubernetesOverlaysAgreeWithTheExporter() throws {
        let kubectl = ["/usr/local/bin/kubectl", "/usr/bin/kubectl"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        let result = try runTool(
            "/usr/bin/python3",
            ["scripts/check-kubernetes.py", "--quiet", exporter] + (kubectl.map { ["--kubectl", $0] } ?? [])
        )
        #expect(result.status == 0, "scripts/check-kubernetes.py:\n\(result.output)")
    }

    @Test func everyFlagTheDeploymentFilesPassExists() throws {
        let help = try runTool(exporter, ["--help"]).output
        // The Kubernetes overlays' flags (sharding) are checked on the rendered objects by
        // theKubernetesOverlaysAgreeWithTheExporter; the base's are here too.
        let files = [
            "deploy/systemd/zuora-mediation-exporter.service", "deploy/kubernetes/base/statefulset.yaml",
            "deploy/compose.yml",
        ]
        for file in files {
            var text = try String(contentsOfFile: file, encoding: .utf8)
            if file.hasSuffix("compose.yml") {
                // Only the exporter's service block; the others run Prometheus and Alertmanager.
                // Only the exporter's service block (up to the next service); the others run other programs.
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
                let start = try #require(lines.firstIndex { $0.hasPrefix("  exporter:") })
                let end =
                    lines[(start + 1)...].firstIndex { $0.hasPrefix("  ") && !$0.hasPrefix("   ") } ?? lines.endIndex
                text = lines[start..<end].joined(separator: "\n")
            }
            let lines = text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
            for line in lines {
                for flag in line.matches(of: /--([a-z][a-z.-]+)=/)
                where !["storage.tsdb.path", "storage.path"].contains(String(flag.1)) {
                    #expect(
                        help.contains("--\(flag.1) "),
                        "\(file) passes --\(flag.1), which the exporter does not have"
                    )
                }
            }
        }
        let compose = try String(contentsOfFile: "deploy/compose.yml", encoding: .utf8)
        #expect(
            compose.contains("prometheus/rules.yml") && compose.contains("config.example.yml"),
            "compose uses the tested files"
        )
    }
}
