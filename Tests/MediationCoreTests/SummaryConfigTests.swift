import Testing

@testable import MediationCore

/// The `summary:` section and `webhook.periodic_path`: defaults, ranges, clear errors.
struct SummaryConfigTests {
    static let base = "zuora:\n  base_url: https://rest.zuora.com\nmeters:\n  - id: 1\n"
    static let webhook = "webhook:\n  insecure: true\n"

    func parse(_ extra: String) throws -> ExporterConfig { try ExporterConfig.parse(yaml: Self.base + extra) }

    func error(_ extra: String) -> ConfigError? {
        do {
            _ = try parse(extra)
            return nil
        } catch { return error as? ConfigError }
    }

    @Test func offByDefaultWithLimitsOf20And4Attempts() throws {
        #expect(
            try parse("").summary == SummaryConfig(enabled: false, maxOperators: 20, maxErrorCodes: 20, maxAttempts: 4)
        )
        #expect(try parse("summary:\n").summary.enabled == false)
        #expect(try parse(Self.webhook).webhook?.periodicPath == "/webhooks/meter-session-periodic-status")
    }

    @Test func aFullSectionIsReadAsWritten() throws {
        let config = try parse(
            "summary:\n  enabled: true\n  max_operators: 1000\n  max_error_codes: 1\n  max_attempts: 10\n"
                + Self.webhook + "  periodic_path: /hooks/periodic\n"
        )
        #expect(config.summary == SummaryConfig(enabled: true, maxOperators: 1000, maxErrorCodes: 1, maxAttempts: 10))
        #expect(config.webhook?.periodicPath == "/hooks/periodic")
        #expect(
            config.summary.costLine.contains("at most one summary request per ended run of a watched meter-version")
        )
        #expect(config.summary.costLine.contains("plus up to 9 retries"))
    }

    @Test(arguments: [
        ("summary:\n  max_operators: 0\n", "summary.max_operators", "between 1 and 1000"),
        ("summary:\n  max_operators: 1001\n", "summary.max_operators", "between 1 and 1000"),
        ("summary:\n  max_error_codes: -1\n", "summary.max_error_codes", "between 1 and 1000"),
        ("summary:\n  max_attempts: 11\n", "summary.max_attempts", "between 1 and 10"),
        ("summary:\n  max_attempts: 0\n", "summary.max_attempts", "between 1 and 10"),
        ("summary:\n  enabled: yes please\n", "summary.enabled", "true or false"),
        ("summary:\n  enable: true\n", "summary.enable", "allowed here: enabled"),
        ("summary: true\n", "summary", "expected a mapping"),
        (webhook + "  periodic_path: hooks\n", "webhook.periodic_path", "must start with /"),
        (webhook + "  periodic_path: /webhooks/meter-session-status\n", "webhook.periodic_path", "paths of their own"),
    ])
    func mistakesNameTheKeyAndTheFix(yaml: String, path: String, words: String) {
        let found = error(yaml)
        #expect(found?.path == path, "\(String(describing: found))")
        #expect(found?.description.contains(words) == true, "\(String(describing: found))")
        #expect(found?.line != nil)
    }
}
