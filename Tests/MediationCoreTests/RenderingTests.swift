import ExpositionParser
import Testing

@testable import MediationCore

/// What a scraper sees of the per-meter families, parsed back from the text the store serves.
struct RenderingTests {
    static let families: [String: String] = [
        "zuora_meter_info": "gauge",
        "zuora_meter_run_status": "gauge",
        "zuora_meter_run_state": "gauge",
        "zuora_meter_run_status_transitions_total": "counter",
        "zuora_meter_run_failures_total": "counter",
        "zuora_meter_run_status_last_change_timestamp_seconds": "gauge",
        "zuora_meter_poll_success": "gauge",
        "zuora_meter_last_poll_success_timestamp_seconds": "gauge",
        "zuora_meter_poll_errors_total": "counter",
    ]
    static let odd = "a\"b\\c\nd"

    let running = key(101)
    let unknown = key(202, "2.0")
    let failing = key(303)
    let quoted = key(404, odd)
    let silent = key(505)

    /// Five meters: running, an unknown code, failed then polled with an error, odd label values, never polled.
    func populatedHub() -> StatusHub {
        let hub = StatusHub()
        hub.configure([
            spec(101, name: "Usage ingestion"), spec(202, "2.0"), spec(303), spec(404, Self.odd, name: Self.odd),
            spec(505),
        ])
        hub.record(ok(running, 10, at: 1_700_000_000))
        hub.record(ok(running, 5, at: 1_700_000_030.25))
        hub.record(ok(unknown, 42, at: 1_700_000_001))
        hub.record(ok(failing, 5, at: 1_700_000_002))
        hub.record(ok(failing, 8, at: 1_700_000_032))
        hub.record(failed(failing, .timeout, at: 1_700_000_062))
        hub.record(failed(failing, .timeout, at: 1_700_000_092))
        hub.record(failed(failing, .auth, at: 1_700_000_122))
        hub.record(ok(quoted, -1, at: 1_700_000_003))
        return hub
    }

    func parse(_ hub: StatusHub) -> ParsedExposition { ParsedExposition(text(hub.store.body())) }

    @Test func everyFamilyIsOneGroupWithOneHelpAndOneType() throws {
        let body = text(populatedHub().store.body())
        let parsed = ParsedExposition(body)
        #expect(parsed.problems.isEmpty, "unparseable lines: \(parsed.problems)")
        let runs = parsed.familyRuns
        #expect(runs.count == Set(runs).count, "a family is split into several groups: \(runs)")
        for (family, type) in Self.families {
            #expect(parsed.helpCount[family] == 1, "\(family) HELP lines")
            #expect(parsed.types[family] == [type], "\(family) TYPE")
            #expect(runs.contains(family))
        }
        for sample in parsed.samples {
            #expect(Self.families[sample.name] != nil || parsed.types[sample.name] != nil, "\(sample.name) untyped")
        }
        let lines = body.split(separator: "\n")
        for (index, line) in lines.enumerated() where line.hasPrefix("# HELP ") {
            #expect(index + 1 < lines.count && lines[index + 1].hasPrefix("# TYPE "), "TYPE follows HELP: \(line)")
        }
    }

    @Test func theStateSetHasExactlyOneSeriesAtOnePerObservedMeter() {
        let parsed = parse(populatedHub())
        let expected: [(MeterKey, String)] = [
            (running, "RUNNING"), (unknown, "UNKNOWN"), (failing, "FAILED"), (quoted, "UNKNOWN"),
        ]
        for (meter, current) in expected {
            let series = parsed.samples("zuora_meter_run_state", matching: meterLabels(meter))
            #expect(Set(series.compactMap { $0.labels["state"] }) == allStateNames, "\(meter)")
            #expect(series.count == allStateNames.count, "\(meter): one series per state")
            #expect(series.filter { $0.value == 1 }.map { $0.labels["state"] } == [current], "\(meter)")
            #expect(series.allSatisfy { $0.value == 0 || $0.value == 1 })
        }
        #expect(parsed.samples("zuora_meter_run_state", matching: meterLabels(silent)).isEmpty)
        #expect(parsed.samples("zuora_meter_run_status", matching: meterLabels(silent)).isEmpty)
    }

    @Test func theStatusCodeIsExposedAsReturnedIncludingUnknownCodes() {
        let parsed = parse(populatedHub())
        #expect(parsed.value("zuora_meter_run_status", meterLabels(running)) == 5)
        #expect(parsed.value("zuora_meter_run_status", meterLabels(unknown)) == 42)
        #expect(parsed.value("zuora_meter_run_status", meterLabels(failing)) == 8)
        #expect(parsed.value("zuora_meter_run_status", meterLabels(quoted)) == -1)
    }

    @Test func countersTimestampsAndPollHealthAreRendered() {
        let parsed = parse(populatedHub())
        let transition = meterLabels(running, ["from": "INITIALIZING", "to": "RUNNING"])
        #expect(parsed.value("zuora_meter_run_status_transitions_total", transition) == 1)
        #expect(parsed.value("zuora_meter_run_failures_total", meterLabels(failing)) == 1)
        #expect(parsed.value("zuora_meter_run_failures_total", meterLabels(running)) == 0)
        let since = "zuora_meter_run_status_last_change_timestamp_seconds"
        #expect(parsed.value(since, meterLabels(running)) == 1_700_000_030.25)
        #expect(parsed.value(since, meterLabels(failing)) == 1_700_000_032)
        #expect(parsed.value("zuora_meter_poll_success", meterLabels(running)) == 1)
        #expect(parsed.value("zuora_meter_poll_success", meterLabels(failing)) == 0)
        #expect(parsed.value("zuora_meter_poll_success", meterLabels(silent)) == 0)
        let lastOK = "zuora_meter_last_poll_success_timestamp_seconds"
        #expect(parsed.value(lastOK, meterLabels(failing)) == 1_700_000_032)
        #expect(parsed.samples(lastOK, matching: meterLabels(silent)).isEmpty)
        let errors = parsed.samples("zuora_meter_poll_errors_total", matching: meterLabels(failing))
        #expect(
            Dictionary(uniqueKeysWithValues: errors.map { ($0.labels["reason"] ?? "", $0.value) })
                == ["timeout": 2, "auth": 1]
        )
        #expect(parsed.samples("zuora_meter_poll_errors_total", matching: meterLabels(running)).isEmpty)
        #expect(parsed.value("zuora_meter_info", meterLabels(running, ["name": "Usage ingestion"])) == 1)
        #expect(parsed.value("zuora_meter_info", meterLabels(silent, ["name": ""])) == 1)
    }

    @Test func labelValuesAreEscaped() throws {
        let body = text(populatedHub().store.body())
        #expect(body.contains(#"version="a\"b\\c\nd""#))
        #expect(body.contains(#"name="a\"b\\c\nd""#))
        #expect(!body.contains("c\nd"), "a raw line feed would end the line inside a label value")
        let parsed = ParsedExposition(body)
        #expect(parsed.problems.isEmpty)
        let info = try #require(parsed.samples("zuora_meter_info", matching: ["meter_id": "404"]).first)
        #expect(info.labels["version"] == Self.odd)
        #expect(info.labels["name"] == Self.odd)
    }

    @Test func removedMetersDisappear() {
        let hub = populatedHub()
        hub.configure([spec(101, name: "Usage ingestion"), spec(505)])
        let parsed = parse(hub)
        for gone in [unknown, failing, quoted] {
            #expect(!parsed.samples.contains { $0.labels["meter_id"] == String(gone.meterId) }, "\(gone)")
        }
        #expect(parsed.value("zuora_meter_run_status", meterLabels(running)) == 5)
        #expect(parsed.helpCount["zuora_meter_run_status"] == 1, "headers stay")
        #expect(hub.store.count == 2)
        hub.configure([])
        let empty = parse(hub)
        #expect(empty.samples.isEmpty)
        #expect(Set(empty.helpCount.keys).isSuperset(of: Self.families.keys), "headers stay when no meter is left")
    }

    @Test func aChangeIsVisibleInTheNextBodyPlainAndCompressed() throws {
        let hub = populatedHub()
        let before = hub.store.body()
        _ = hub.store.bodySegments()
        #expect(hub.store.body() == before, "nothing changed")
        hub.record(ok(running, 11, at: 1_700_000_100))
        let after = parse(hub)
        #expect(after.value("zuora_meter_run_status", meterLabels(running)) == 11)
        #expect(after.value("zuora_meter_run_state", meterLabels(running, ["state": "USAGE_PUSHING"])) == 1)
        #expect(after.value("zuora_meter_run_state", meterLabels(running, ["state": "RUNNING"])) == 0)
        let gzip = Gzip.join(hub.store.bodySegments() + [Gzip.segment([], final: true)])
        #expect(try Gzip.decompress(gzip) == hub.store.body(), "the compressed cache was refreshed too")
        hub.record(failed(running, .serverError, at: 1_700_000_130))
        let compressed = try Gzip.decompress(Gzip.join(hub.store.bodySegments() + [Gzip.segment([], final: true)]))
        let reparsed = ParsedExposition(text(compressed))
        #expect(reparsed.value("zuora_meter_poll_success", meterLabels(running)) == 0)
    }

    @Test func cachesStayExactThroughInterleavedChangesToDifferentFamilies() throws {
        let hub = populatedHub()
        var generator = SystemRandomNumberGenerator()
        let keys = [running, unknown, failing, quoted, silent]
        for step in 0..<200 {
            let key = keys.randomElement(using: &generator)!
            let at = 1_700_001_000 + Double(step)
            switch Int.random(in: 0..<4, using: &generator) {
            case 0: hub.record(ok(key, Int.random(in: 1...14, using: &generator), at: at))
            case 1: hub.record(failed(key, .serverError, at: at))
            case 2: hub.record(ok(key, hub.state(of: key)?.status?.code ?? 1, at: at))  // only timestamps move
            default: break
            }
            // Scrape in one form or the other, or not at all, so that caches are at different ages.
            switch step % 3 {
            case 0: _ = hub.store.bodySegments()
            case 1: _ = hub.store.body()
            default: break
            }
            if step % 20 == 19 {
                let fresh = MetricStore()
                for (key, meter) in hub.snapshot() { fresh.update(key, fresh.render(key, meter)) }
                // Compared as booleans: a failure should not print two whole bodies.
                let plain = hub.store.body()
                let plainIsCurrent = plain == fresh.body()
                #expect(plainIsCurrent, "the plain body is what a fresh render gives (step \(step))")
                let gzip = Gzip.join(hub.store.bodySegments() + [Gzip.segment([], final: true)])
                let gzipIsCurrent = try Gzip.decompress(gzip) == plain
                #expect(gzipIsCurrent, "the gzip body matches (step \(step))")
            }
        }
    }

    @Test(arguments: ["", "# TYPE x gauge\nx 1\n", String(repeating: "process_open_fds 12\n", count: 500)])
    func theCompressedBodyIsThePlainBodyFollowedByTheDynamicPart(dynamic: String) throws {
        let hub = populatedHub()
        let extra = Array(dynamic.utf8)
        for _ in 0..<2 {
            let joined = Gzip.join(hub.store.bodySegments() + [Gzip.segment(extra, final: true)])
            #expect(Array(joined.prefix(2)) == [0x1f, 0x8b], "a gzip member")
            #expect(try Gzip.decompress(joined) == hub.store.body() + extra)
        }
    }

    @Test(arguments: [
        0, 1, -1, 42, 1e14, -1e14, 1.5, -0.25, 1e15, 1e300, .nan, .infinity, -.infinity, 1_700_000_030.25,
    ])
    func meterSamplesAreWrittenAsTheGeneralSamplePathWritesThem(value: Double) {
        for key in [running, quoted] {
            var fast = [UInt8]()
            Exposition.appendSample(
                "x",
                meterLabels: MeterFamily.labels(of: key),
                ("state", Self.odd),
                ("to", "B"),
                value: value,
                to: &fast
            )
            var general = [UInt8]()
            Exposition.appendSample(
                "x",
                labels: [
                    ("meter_id", String(key.meterId)), ("version", key.version), ("state", Self.odd), ("to", "B"),
                ],
                value: value,
                to: &general
            )
            #expect(text(fast) == text(general))
        }
    }

    @Test func gzipGroupsStayExactInALargeFleetWhileMetersChangeComeAndGo() throws {
        let hub = StatusHub()
        var ids = Array(Int64(1)...Int64(3 * MetricStore.groupSize + 17))
        hub.configure(ids.map { spec($0) })
        for id in ids { hub.record(ok(key(id), 5, at: 1_700_000_000)) }
        var generator = SystemRandomNumberGenerator()
        for round in 0..<12 {
            for _ in 0..<Int.random(in: 1...6, using: &generator) {
                let id = ids.randomElement(using: &generator)!
                hub.record(ok(key(id), Int.random(in: 1...13, using: &generator), at: 1_700_000_100 + Double(round)))
            }
            if round % 4 == 3 {
                // Meters come and go, which moves every later meter to another group.
                ids.removeFirst(Int.random(in: 1...40, using: &generator))
                ids.append(contentsOf: (ids.last! + 1)...(ids.last! + 30))
                hub.configure(ids.map { spec($0) })
            }
            let gzip = Gzip.join(hub.store.bodySegments() + [Gzip.segment([], final: true)])
            let matches = try Gzip.decompress(gzip) == hub.store.body()
            #expect(matches, "round \(round): the gzip body is the plain body")
        }
        let fresh = MetricStore()
        for (key, meter) in hub.snapshot() { fresh.update(key, fresh.render(key, meter)) }
        let current = hub.store.body() == fresh.body()
        #expect(current, "the plain body is what a fresh render gives")
    }

    @Test func thePlainBodyReadsTheSameInPiecesOfAnySize() {
        let hub = populatedHub()
        let trailer = Array("up 1\n".utf8)
        let whole = hub.store.body() + trailer
        for pieceSize in [1, 7, 64, 1000, whole.count + 5] {
            let source = hub.store.plainBody(trailer: trailer)
            #expect(source.count == whole.count)
            var read = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: pieceSize)
            while true {
                let count = buffer.withUnsafeMutableBytes { source.read(at: read.count, into: $0) }
                if count == 0 { break }
                read += buffer.prefix(count)
            }
            let same = read == whole
            #expect(same, "read in pieces of \(pieceSize) bytes")
        }
        // A change after the start does not tear a body being sent: it is the data at the start.
        let source = hub.store.plainBody(trailer: [])
        let before = hub.store.body()
        hub.record(ok(running, 8, at: 1_700_000_500))
        let unchanged = source.readAll() == before
        #expect(unchanged)
        #expect(hub.store.body() != before, "the next body has the change")
    }

    @Test func anEmptyStoreStillServesTheHeaders() throws {
        let store = MetricStore()
        let parsed = ParsedExposition(text(store.body()))
        #expect(parsed.samples.isEmpty)
        #expect(Set(parsed.helpCount.keys).isSuperset(of: Self.families.keys))
        let joined = Gzip.join(store.bodySegments() + [Gzip.segment(Array("up 1\n".utf8), final: true)])
        #expect(try Gzip.decompress(joined) == store.body() + Array("up 1\n".utf8))
    }

    @Test func gzipRoundTripsAndRejectsGarbage() throws {
        var bytes = [UInt8]()
        var seed: UInt32 = 12_345
        for _ in 0..<100_000 {
            seed = seed &* 1_103_515_245 &+ 12_345
            bytes.append(UInt8(truncatingIfNeeded: seed >> 16))
        }
        #expect(try Gzip.decompress(Gzip.compress(bytes)) == bytes)
        #expect(try Gzip.decompress(Gzip.compress([])) == [])
        #expect(throws: Gzip.DecompressError.corrupt) { try Gzip.decompress(Array("not gzip".utf8)) }
        let whole = Gzip.compress(bytes)
        #expect(throws: Gzip.DecompressError.corrupt) { try Gzip.decompress(Array(whole.dropLast(8))) }
        #expect(throws: Gzip.DecompressError.corrupt) { try Gzip.decompress(Array(whole.prefix(whole.count / 2))) }
        let big = Gzip.compress([UInt8](repeating: 65, count: 200_000))
        #expect(throws: Gzip.DecompressError.tooLarge(limit: 1000)) { try Gzip.decompress(big, limit: 1000) }
    }

    @Test(arguments: [(1.0, "1"), (-1, "-1"), (0.25, "0.25"), (1_700_000_030.25, "1700000030.25")])
    func valuesAreWrittenAsPrometheusParsesThem(value: Double, expected: String) {
        #expect(Exposition.format(value) == expected)
    }

    @Test func specialValuesUseThePrometheusSpelling() {
        #expect(Exposition.format(.infinity) == "+Inf")
        #expect(Exposition.format(-.infinity) == "-Inf")
        #expect(Exposition.format(.nan) == "NaN")
    }
}
