// swift-tools-version:6.1
import PackageDescription

/// Settings shared by every Swift target: Swift 6 language mode with explicit existentials.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "escucha",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "escucha", targets: ["escucha"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
    ],
    targets: [
        // C libraries, each behind a thin shim.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .target(
            name: "CICU",
            linkerSettings: [
                // Foundation bundles its own ICU; linking it first keeps Foundation's
                // C++ symbols bound to its own copy (see docs/pitfalls in shared spec).
                .linkedLibrary("_FoundationICU"),
                .linkedLibrary("icui18n"),
                .linkedLibrary("icuuc"),
                .linkedLibrary("icudata"),
            ]
        ),
        .target(
            name: "CCurl",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        .target(
            name: "CNcurses",
            linkerSettings: [.linkedLibrary("ncursesw")]
        ),

        // Pure logic.
        .target(
            name: "EscuchaCore",
            dependencies: [
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EscuchaClassifier",
            dependencies: ["EscuchaCore", "CICU", .product(name: "Yams", package: "Yams")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EscuchaChannels",
            dependencies: [
                "EscuchaCore", "CICU",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        // IO.
        .target(
            name: "EscuchaStore",
            dependencies: [
                "EscuchaCore", "CLibPQ",
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("Migrations")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EscuchaWorkflow",
            dependencies: [
                "EscuchaCore", "EscuchaClassifier", "EscuchaChannels", "EscuchaStore", "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EscuchaServer",
            dependencies: [
                "EscuchaWorkflow",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EscuchaConsole",
            dependencies: [
                "EscuchaCore", "EscuchaChannels", "EscuchaStore", "EscuchaWorkflow", "CNcurses",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "EscuchaReports",
            dependencies: ["EscuchaCore", "EscuchaStore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "escucha",
            dependencies: [
                "EscuchaCore", "EscuchaClassifier", "EscuchaChannels", "EscuchaStore",
                "EscuchaWorkflow", "EscuchaServer", "EscuchaReports", "EscuchaConsole",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Tests.
        .target(
            name: "EscuchaTestSupport", dependencies: ["EscuchaStore", "EscuchaCore", "EscuchaWorkflow"], path: "Sources/EscuchaTestSupport",
            swiftSettings: swiftSettings),
        .testTarget(name: "EscuchaCoreTests", dependencies: ["EscuchaCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "EscuchaClassifierTests", dependencies: ["EscuchaClassifier", "EscuchaCore"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "EscuchaChannelsTests", dependencies: ["EscuchaChannels", "EscuchaCore"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "EscuchaStoreTests", dependencies: ["EscuchaStore", "EscuchaCore", "EscuchaTestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "EscuchaReportsTests", dependencies: ["EscuchaReports", "EscuchaCore", "EscuchaStore", "EscuchaTestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "EscuchaWorkflowTests",
            dependencies: ["EscuchaWorkflow", "EscuchaCore", "EscuchaStore", "EscuchaClassifier", "EscuchaChannels", "EscuchaTestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "EscuchaConsoleTests",
            dependencies: ["EscuchaConsole", "EscuchaWorkflow", "EscuchaStore", "EscuchaCore", "EscuchaTestSupport"],
            swiftSettings: swiftSettings),
        .testTarget(
            name: "EscuchaServerTests",
            dependencies: [
                "EscuchaServer", "EscuchaWorkflow", "EscuchaStore", "EscuchaCore", "EscuchaChannels", "EscuchaClassifier",
                "EscuchaTestSupport",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings),
    ],
    swiftLanguageModes: [.v6]
)
