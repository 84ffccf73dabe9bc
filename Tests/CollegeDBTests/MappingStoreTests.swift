import Foundation
import Testing

@testable import CollegeDB

@Suite struct MappingStoreTests {
    let directory = TemporaryDirectory()

    @Test func hashedKeysNeverReachTheFile() throws {
        let path = directory.path + "/mapping.sqlite"
        do {
            let store = try MappingStore(path: path, keyCodec: MappingKeyCodec(hashesKeys: true))
            _ = try store.allocate(key: "alice@example.com") { _ in ("db-1", false) }
            #expect(try store.shard(forKey: "alice@example.com") == "db-1")
        }
        var bytes = Data()
        for suffix in ["", "-wal"] {
            bytes += FileManager.default.contents(atPath: path + suffix) ?? Data()
        }
        #expect(bytes.range(of: Data("alice@example.com".utf8)) == nil)
    }

    @Test func aStoreMadeWithTheOtherHashingSettingIsRefused() throws {
        let path = directory.path + "/mapping.sqlite"
        _ = try MappingStore(path: path, keyCodec: MappingKeyCodec(hashesKeys: true))
        #expect(throws: CollegeDBError.self) {
            try MappingStore(path: path, keyCodec: MappingKeyCodec(hashesKeys: false))
        }
    }

    @Test func concurrentAllocationsOfOneKeyAgree() async throws {
        let store = try MappingStore(
            path: directory.path + "/mapping.sqlite",
            keyCodec: MappingKeyCodec(hashesKeys: true)
        )
        let shards = await withTaskGroup(of: Allocation.self) { group in
            for index in 0..<16 {
                group.addTask {
                    try! store.allocate(key: "contested") { _ in ("db-\(index)", false) }
                }
            }
            return await group.reduce(into: [Allocation]()) { $0.append($1) }
        }
        #expect(Set(shards.map(\.shard)).count == 1)
        #expect(shards.filter(\.created).count == 1)
        #expect(try store.statistics().values.map(\.count).reduce(0, +) == 1)
    }

    @Test func theRoundRobinPositionAdvancesOnlyWhenConsumed() throws {
        let store = try MappingStore(
            path: directory.path + "/mapping.sqlite",
            keyCodec: MappingKeyCodec(hashesKeys: false)
        )
        _ = try store.allocate(key: "a") { _ in ("db-1", true) }
        _ = try store.allocate(key: "b") { _ in ("db-1", false) }
        _ = try store.allocate(key: "a") { _ in ("db-2", true) }
        #expect(try store.roundRobinPosition() == 1)
    }
}
