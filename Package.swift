// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "zuora-mediation-exporter",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "zuora-mediation-exporter", targets: ["Exporter"]),
        .executable(name: "zuora-mediation-simulator", targets: ["Simulator"]),
        // For the fuzz targets in Fuzz/ (a separate package, built with -sanitize=fuzzer).
        .library(name: "MediationCore", targets: ["MediationCore"]),
        // The one parser of the text exposition format, for the tests here and the fuzz targets in Fuzz/.
        .library(name: "ExpositionParser", targets: ["ExpositionParser"]),
    ],
    dependencies: [
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // C libraries from Debian, found through pkg-config.
        .systemLibrary(
            name: "CMicroHTTPD",
            pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]
        ),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CCrypt", pkgConfig: "libcrypt", providers: [.apt(["libcrypt-dev"])]),
        // HMAC-SHA256 for signed callouts: OpenSSL's libcrypto, already a dependency of libcurl.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // GnuTLS, libmicrohttpd's TLS library: verifies client certificates for mutual TLS.
        .systemLibrary(name: "CGnuTLS", pkgConfig: "gnutls", providers: [.apt(["libgnutls28-dev"])]),
        // Typed wrappers for the variadic C functions.
        .target(name: "CShims", dependencies: ["CCurl", "CMicroHTTPD", "CGnuTLS"]),

        // Pure core: status tracking, rendering, configuration, routing. No sockets, no threads of its own.
        .target(
            name: "MediationCore",
            dependencies: [
                "CZlib", "COpenSSL", "CCrypt",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        // Strict parser of the text exposition format 0.0.4, to check what the exporter writes. Standard
        // library only, independent of MediationCore: a failed check is about the writer, not the parser.
        .target(name: "ExpositionParser"),
        // Adapters: libcurl towards Zuora, libmicrohttpd towards scrapers and callouts.
        .target(
            name: "ZuoraClient",
            dependencies: [
                "MediationCore", "CCurl", "CShims",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "HTTPServer",
            dependencies: [
                "MediationCore", "CMicroHTTPD", "CShims",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The simulator's Zuora API, as handlers testable without sockets.
        .target(name: "SimulatorCore", dependencies: ["MediationCore"]),

        // Thin executables.
        .executableTarget(
            name: "Exporter",
            dependencies: [
                "MediationCore", "ZuoraClient", "HTTPServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "Simulator",
            dependencies: [
                // ZuoraClient for its libcurl transport, which sends the simulator's callouts.
                "SimulatorCore", "HTTPServer", "MediationCore", "ZuoraClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),

        .testTarget(name: "MediationCoreTests", dependencies: ["MediationCore", "ExpositionParser"]),
        .testTarget(name: "SimulatorCoreTests", dependencies: ["SimulatorCore", "MediationCore"]),
        .testTarget(name: "IntegrationTests", dependencies: ["MediationCore", "ExpositionParser"]),
        .testTarget(name: "ZuoraClientTests", dependencies: ["ZuoraClient", "MediationCore"]),
    ]
)

// The sanitized in-process suites (scripts/sanitizers.sh --no-integration) build without the process-level
// tests, which they do not run: one target less to compile in each sanitizer's build.
if Context.environment["ZME_IN_PROCESS_TESTS_ONLY"] == "1" {
    package.targets.removeAll { $0.name == "IntegrationTests" }
}
// scripts/test.sh runs the in-process suites under each sanitizer only: its unsanitized build compiles the
// executables and the process-level tests, not the in-process test targets.
if Context.environment["ZME_PROCESS_LEVEL_TESTS_ONLY"] == "1" {
    package.targets.removeAll { $0.type == .test && $0.name != "IntegrationTests" }
}

for target in package.targets where [.executable, .test, .regular].contains(target.type) {
    guard target.name != "CShims" else { continue }
    var settings = target.swiftSettings ?? []
    // https://github.com/apple/swift-evolution/blob/main/proposals/0335-existential-any.md
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    // https://github.com/swiftlang/swift-evolution/blob/main/proposals/0444-member-import-visibility.md
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    // https://github.com/swiftlang/swift-evolution/blob/main/proposals/0409-access-level-on-imports.md
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
