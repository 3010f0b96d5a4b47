/// Reported by --version and zuora_exporter_build_info. A release updates both with its tag.
enum BuildInfo {
    static let version = "0.1.0"
    static let revision = "unreleased"
}
