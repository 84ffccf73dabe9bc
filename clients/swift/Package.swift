// swift-tools-version:6.1
import PackageDescription

// The Swift client of collegedbd. It depends on nothing beyond Foundation, so an app can use it
// without the daemon's dependencies (SwiftNIO, GRDB, ...).
let package = Package(
    name: "CollegeDBClient",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "CollegeDBClient", targets: ["CollegeDBClient"]),
        .library(name: "CollegeDBJSON", targets: ["CollegeDBJSON"]),
        .library(name: "UnixSocketAddress", targets: ["UnixSocketAddress"]),
        .executable(name: "collegedb-example", targets: ["CollegeDBExample"]),
    ],
    targets: [
        .target(name: "CollegeDBJSON"),
        .target(name: "UnixSocketAddress"),
        .target(name: "CollegeDBClient", dependencies: ["CollegeDBJSON", "UnixSocketAddress"]),
        .executableTarget(name: "CollegeDBExample", dependencies: ["CollegeDBClient"]),
        .testTarget(name: "CollegeDBClientTests", dependencies: ["CollegeDBClient", "CollegeDBJSON"]),
    ],
    swiftLanguageModes: [.v6]
)
