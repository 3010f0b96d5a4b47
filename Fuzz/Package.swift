// swift-tools-version:5.4
// libFuzzer targets for MediationCore. Not part of the main build: build and run them with
// scripts/fuzz.sh (swift build --package-path Fuzz -Xswiftc -sanitize=fuzzer,address ...).
//
// Tools version 5.4 on purpose: from 5.5 on, SwiftPM renames an executable's entry point to
// `<Target>_main` and links with `--defsym main=<Target>_main`, which fails here (the targets have no
// entry point of their own; libFuzzer's main() is the entry point). The code is still compiled in the
// Swift 6 language mode (swiftLanguageVersions below).
import PackageDescription

let targets = [
    "FuzzConfig", "FuzzResponses", "FuzzCallout", "FuzzExposition", "FuzzRender", "FuzzPath", "FuzzRequest", "FuzzState",
]

let package = Package(
    name: "mediation-fuzz",
    products: targets.map { .executable(name: $0, targets: [$0]) },
    dependencies: [
        .package(name: "zuora-mediation-exporter", path: ".."),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
    ],
    targets: [
        // Checks shared by the targets (exposition bodies, label escaping) on the main package's exposition
        // parser, the one its tests use; standard library otherwise.
        .target(
            name: "FuzzSupport",
            dependencies: [.product(name: "ExpositionParser", package: "zuora-mediation-exporter")]
        ),
    ]
        + targets.map { name in
            .executableTarget(
                name: name,
                dependencies: [
                    "FuzzSupport",
                    .product(name: "ExpositionParser", package: "zuora-mediation-exporter"),
                    .product(name: "MediationCore", package: "zuora-mediation-exporter"),
                    .product(name: "Logging", package: "swift-log"),
                ],
                // No top-level code: libFuzzer's own main() calls LLVMFuzzerTestOneInput.
                swiftSettings: [.unsafeFlags(["-parse-as-library"])]
            )
        },
    swiftLanguageVersions: [.version("6")]
)
