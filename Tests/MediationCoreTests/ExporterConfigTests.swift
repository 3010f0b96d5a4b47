import Testing

@testable import MediationCore

/// The configuration file: a valid one is read as written, a bad one names the key and the line.
struct ExporterConfigTests {
    /// The error `yaml` produces, or a test failure when it parses.
    func error(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigError? {
        do {
            let config = try ExporterConfig.parse(yaml: yaml)
            Issue.record("expected an error, parsed \(config)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    /// Checks the error's path, line and that its description names both.
    func expectError(
        _ yaml: String,
        path: String,
        line: Int?,
        mentioning words: [String] = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard let error = error(yaml, sourceLocation: sourceLocation) else { return }
        #expect(error.path == path, "\(error)", sourceLocation: sourceLocation)
        #expect(error.description.contains(path.isEmpty ? "config" : path), sourceLocation: sourceLocation)
        if let line {
            #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.contains("(line \(line))"), "\(error)", sourceLocation: sourceLocation)
        }
        for word in words {
            #expect(error.description.contains(word), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func aFullExampleIsReadAsWritten() throws {
        let config = try ExporterConfig.parse(
            yaml: """
                zuora:
                  base_url: https://rest.apisandbox.zuora.com/
                  client_id_file: /run/secrets/zuora_client_id
                  client_secret_file: /run/secrets/zuora_client_secret
                  entity_ids: "6f1a"
                  org_ids: "org-1,org-2"
                  track_id: exporter-1
                  timeout: 2500ms
                  max_concurrency: 8
                poll_interval: 1m30s
                meters:
                  - id: 101
                    version: "0.0.2"
                    name: Usage ingestion
                  - id: 102
                  - id: 101
                    version: 1.10
                """
        )
        #expect(config.zuora.baseURL == "https://rest.apisandbox.zuora.com")
        #expect(config.zuora.clientIdFile == "/run/secrets/zuora_client_id")
        #expect(config.zuora.clientSecretFile == "/run/secrets/zuora_client_secret")
        #expect(config.zuora.entityIds == "6f1a")
        #expect(config.zuora.orgIds == "org-1,org-2")
        #expect(config.zuora.trackId == "exporter-1")
        #expect(config.zuora.timeout == 2.5)
        #expect(config.zuora.maxConcurrency == 8)
        #expect(config.pollInterval == 90)
        #expect(
            config.meters == [
                MeterSpec(key: key(101, "0.0.2"), name: "Usage ingestion"),
                MeterSpec(key: key(102, "0.0.1"), name: nil),
                MeterSpec(key: key(101, "1.10"), name: nil),
            ]
        )
    }

    @Test func defaultsApplyToAMinimalFile() throws {
        let config = try ExporterConfig.parse(yaml: "zuora:\n  base_url: http://127.0.0.1:8080\nmeters:\n  - id: 7\n")
        #expect(config.zuora.baseURL == "http://127.0.0.1:8080")
        #expect(config.zuora.timeout == 10)
        #expect(config.zuora.maxConcurrency == 4)
        #expect(config.pollInterval == 30)
        #expect(config.meters == [MeterSpec(key: key(7, "0.0.1"), name: nil)])
        #expect(config.zuora.trackId == nil)
        #expect(config.zuora.entityIds == nil)
        #expect(config.webhook == nil)
    }

    @Test func emptyCredentialAndHeaderValuesMeanUnset() throws {
        let config = try ExporterConfig.parse(
            yaml: "zuora:\n  base_url: https://rest.zuora.com\n  entity_ids: \"\"\n  track_id: \"\"\nmeters: []\n"
        )
        #expect(config.zuora.entityIds == nil)
        #expect(config.zuora.trackId == nil)
        #expect(config.meters.isEmpty)
    }

    @Test func missingSectionsAreNamed() {
        expectError("poll_interval: 30s\nmeters: []\n", path: "zuora", line: nil)
        expectError("zuora:\n  timeout: 5s\nmeters: []\n", path: "zuora", line: 2, mentioning: ["base_url"])
        expectError("zuora:\n  base_url: https://rest.zuora.com\n", path: "meters", line: nil)
        expectError("zuora:\n  base_url: https://rest.zuora.com\nmeters:\n  - name: x\n", path: "meters[0]", line: 4)
    }

    @Test(arguments: ["ftp://rest.zuora.com", "rest.zuora.com", "https://", "https://rest.zuora.com?x=1", "42"])
    func aBadBaseURLIsRefused(url: String) {
        expectError("zuora:\n  base_url: \"\(url)\"\nmeters: []\n", path: "zuora.base_url", line: 2)
    }

    @Test func unknownKeysAreRefusedWhereverTheyAre() {
        expectError(
            "zuora:\n  base_url: https://rest.zuora.com\npoll_intervall: 30s\nmeters: []\n",
            path: "poll_intervall",
            line: 3,
            mentioning: ["unknown key"]
        )
        expectError(
            "zuora:\n  base_url: https://rest.zuora.com\n  timeot: 5s\nmeters: []\n",
            path: "zuora.timeot",
            line: 3,
            mentioning: ["unknown key"]
        )
        expectError(
            "zuora:\n  base_url: https://rest.zuora.com\nmeters:\n  - id: 1\n  - id: 2\n    nmae: x\n",
            path: "meters[1].nmae",
            line: 6,
            mentioning: ["unknown key"]
        )
    }

    @Test func wrongTypesAreRefused() {
        let base = "zuora:\n  base_url: https://rest.zuora.com\n"
        expectError(base + "meters:\n  - id: \"101\"\n", path: "meters[0].id", line: 4, mentioning: ["whole number"])
        expectError(base + "meters:\n  - id: abc\n", path: "meters[0].id", line: 4)
        expectError(base + "meters:\n  - id: 1.5\n", path: "meters[0].id", line: 4)
        expectError(base + "  max_concurrency: four\nmeters: []\n", path: "zuora.max_concurrency", line: 3)
        expectError(base + "  max_concurrency: 0\nmeters: []\n", path: "zuora.max_concurrency", line: 3)
        expectError(base + "meters:\n  id: 1\n", path: "meters", line: 4, mentioning: ["list"])
        expectError("zuora: https://rest.zuora.com\nmeters: []\n", path: "zuora", line: 1, mentioning: ["mapping"])
    }

    @Test func aDuplicateMeterIsRefusedButAnotherVersionIsFine() throws {
        let base = "zuora:\n  base_url: https://rest.zuora.com\nmeters:\n"
        expectError(
            base + "  - id: 7\n  - id: 8\n  - id: 7\n    version: 0.0.1\n",
            path: "meters[2]",
            line: 6,
            mentioning: ["duplicate", "meters[0]"]
        )
        let config = try ExporterConfig.parse(yaml: base + "  - id: 7\n  - id: 7\n    version: 0.0.2\n")
        #expect(config.meters.map(\.key) == [key(7, "0.0.1"), key(7, "0.0.2")])
    }

    @Test(arguments: ["30", "abc", "-5s", "0s", "5 s", "", "1.2.3s", "10S"])
    func aBadDurationIsRefused(duration: String) {
        let base = "zuora:\n  base_url: https://rest.zuora.com\n"
        expectError(base + "poll_interval: \"\(duration)\"\nmeters: []\n", path: "poll_interval", line: 3)
        expectError(base + "  timeout: \"\(duration)\"\nmeters: []\n", path: "zuora.timeout", line: 3)
    }

    @Test(arguments: [
        String(repeating: "x", count: 65), "job:7", "job;7", #"'job"7'"#, #""job'7""#, "jöb-7", "\"job\\t7\"",
    ])
    func aBadTrackIdIsRefused(yamlValue: String) {
        expectError(
            "zuora:\n  base_url: https://rest.zuora.com\n  track_id: \(yamlValue)\nmeters: []\n",
            path: "zuora.track_id",
            line: 3
        )
    }

    @Test func aTrackIdOfSixtyFourPrintableCharactersIsFine() throws {
        let value = String(repeating: "a-1", count: 21) + "z"
        let config = try ExporterConfig.parse(
            yaml: "zuora:\n  base_url: https://rest.zuora.com\n  track_id: \(value)\nmeters: []\n"
        )
        #expect(config.zuora.trackId == value)
    }

    @Test(arguments: ["", "# nothing but a comment\n"])
    func anEmptyFileIsRefused(yaml: String) {
        expectError(yaml, path: "", line: nil, mentioning: ["empty"])
    }

    @Test(arguments: ["zuora: [unclosed\n", "zuora:\n  base_url: \"open\nmeters: []\n", "\tzuora: x\n"])
    func invalidYAMLIsRefused(yaml: String) {
        guard let error = error(yaml) else { return }
        #expect(error.path.isEmpty)
        #expect(error.description.contains("YAML"), "\(error)")
    }

    @Test(arguments: [
        ("500ms", 0.5), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("1d", 86_400), ("1.5h", 5400), ("1w", 604_800),
    ])
    func durationsParse(text: String, seconds: Double) {
        #expect(DurationText.seconds(text) == seconds)
    }

    @Test(arguments: ["30", "abc", "-5s", "", "s", "5 s", "1.2.3s", "10S", "5mss", "1h 30m"])
    func durationsThatDoNotParse(text: String) {
        #expect(DurationText.seconds(text) == nil)
    }

    @Test(arguments: [(0.25, "250ms"), (30, "30s"), (90, "1m30s"), (3600, "1h"), (5430, "1h30m30s")])
    func durationsFormatAndParseBack(seconds: Double, text: String) {
        #expect(DurationText.format(seconds) == text)
        #expect(DurationText.seconds(text) == seconds)
    }

    @Test func trackIdRules() {
        #expect(TrackId.problem("exporter-1.prod_A~") == nil)
        #expect(TrackId.problem(String(repeating: "x", count: 64)) == nil)
        #expect(TrackId.problem(String(repeating: "x", count: 65)) != nil)
        for bad in ["a:b", "a;b", "a\"b", "a'b", "café", "a\nb", "a\u{7f}b", "✓"] {
            #expect(TrackId.problem(bad) != nil, "\(bad.debugDescription)")
        }
    }

    @Test func errorDescriptionsNameThePlaceAndTheLine() {
        let error = ConfigError(path: "meters[2].id", line: 9, message: "expected a whole number")
        #expect(error.description == "meters[2].id (line 9): expected a whole number")
        #expect(ConfigError(path: "", line: nil, message: "empty").description == "config: empty")
    }
}
