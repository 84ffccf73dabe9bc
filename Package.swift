// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "collegedbd",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "CollegeDB", targets: ["CollegeDB"]),
        .executable(name: "collegedbd", targets: ["collegedbd"]),
    ],
    dependencies: [
        .package(path: "clients/swift"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .target(
            name: "CSQLiteHardening",
            dependencies: [.product(name: "GRDBSQLite", package: "GRDB.swift")]
        ),
        .target(
            name: "CollegeDB",
            dependencies: [
                "CSQLiteHardening",
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(
            name: "CollegeDBRPC",
            dependencies: [
                "CollegeDB",
                .product(name: "CollegeDBJSON", package: "swift"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "CollegeDBServer",
            dependencies: [
                "CollegeDBRPC",
                "CSystemd",
                .product(name: "CollegeDBJSON", package: "swift"),
                .product(name: "UnixSocketAddress", package: "swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "collegedbd",
            dependencies: [
                "CollegeDB",
                "CollegeDBRPC",
                "CollegeDBServer",
                .product(name: "CollegeDBJSON", package: "swift"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "collegedb-benchmark",
            dependencies: [
                "CollegeDB",
                "CollegeDBRPC",
                .product(name: "UnixSocketAddress", package: "swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/collegedb-benchmark"
        ),
        .executableTarget(
            name: "collegedb-fuzz",
            dependencies: [
                "CollegeDB",
                "CollegeDBRPC",
                "CollegeDBServer",
                .product(name: "CollegeDBJSON", package: "swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            path: "Fuzz/collegedb-fuzz"
        ),
        .testTarget(
            name: "CollegeDBTests",
            dependencies: ["CollegeDB", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "CollegeDBRPCTests",
            dependencies: ["CollegeDBRPC", "CollegeDB", .product(name: "CollegeDBJSON", package: "swift")]
        ),
        .testTarget(
            name: "CollegeDBServerTests",
            dependencies: [
                "CollegeDBServer", "CollegeDB", "CollegeDBRPC",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "collegedbd", "CollegeDB", "CollegeDBRPC", "CollegeDBServer",
                .product(name: "CollegeDBJSON", package: "swift"),
                .product(name: "UnixSocketAddress", package: "swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
