import Foundation
import GRDB
import Testing

@testable import CollegeDB

/// The store's dense layout (a record holds its first key; further keys have rows of their
/// own): every way a key arrives keeps it on one record, every key is found and paged, and a
/// store of the earlier layout is migrated with nothing lost.
@Suite struct MappingStoreLayoutTests {
    let directory = TemporaryDirectory()

    func store(hashesKeys: Bool = true) throws -> MappingStore {
        try MappingStore(path: directory.path + "/mapping.sqlite", keyCodec: MappingKeyCodec(hashesKeys: hashesKeys))
    }

    @Test(arguments: [true, false]) func aKeyBelongsToOneRecordWhicheverWayItArrives(hashesKeys: Bool) throws {
        let store = try store(hashesKeys: hashesKeys)
        try store.setMapping(key: "user:1", shard: "db-1", additionalKeys: ["ann@example.com", "ann"])
        try store.importMappings(["user:2"], shard: "db-2")
        _ = try store.allocate(key: "user:3") { _ in ("db-3", false) }

        #expect(try store.record(forKey: "ann")?.id == store.record(forKey: "user:1")?.id)
        #expect(try store.allocate(key: "ann@example.com") { _ in ("db-2", false) }.shard == "db-1")
        for taken in ["ann", "user:2", "user:3"] {
            #expect(throws: CollegeDBError.self) { try store.importMappings(["user:9", taken], shard: "db-2") }
            #expect(throws: CollegeDBError.self) {
                try store.setMapping(key: "user:9", shard: "db-2", additionalKeys: [taken])
            }
            #expect(throws: CollegeDBError.self) {
                try store.addLookupKeys(key: "user:2", keys: [taken == "user:2" ? "ann" : taken])
            }
        }
        // The refused calls left nothing behind.
        #expect(try store.record(forKey: "user:9") == nil)
        #expect(try store.lookupKeys(ofKey: "user:2").count == 1)
        #expect(try store.statistics().mapValues(\.count) == ["db-1": 1, "db-2": 1, "db-3": 1])

        // The record's own key can be given again as an additional one.
        try store.addLookupKeys(key: "ann", keys: ["user:1", "ann"])
        #expect(try store.lookupKeys(ofKey: "user:1").count == 3)
        #expect(try store.deleteMapping(key: "ann") == 3)
        for key in ["user:1", "ann", "ann@example.com"] { #expect(try store.record(forKey: key) == nil) }
        #expect(try store.statistics()["db-1"]?.count == 0)
    }

    @Test(arguments: [true, false]) func pagesOfAShardHoldEveryKeyOnce(hashesKeys: Bool) throws {
        let store = try store(hashesKeys: hashesKeys)
        var expected: Set<String> = []
        for index in 0..<60 {
            let extra = (0..<(index % 4)).map { "alias:\(index):\($0)" }
            try store.setMapping(key: "user:\(index)", shard: index % 3 == 0 ? "db-2" : "db-1", additionalKeys: extra)
            if index % 3 != 0 {
                for key in ["user:\(index)"] + extra {
                    expected.insert(hashesKeys ? Self.hex(key) : key)
                }
            }
        }
        for limit in [1, 2, 3, 7, 100] {
            var seen: [String] = []
            var cursor: KeyCursor?
            repeat {
                let page = try store.keys(onShard: "db-1", limit: limit, after: cursor)
                #expect(page.keys.count <= limit)
                seen += page.keys
                cursor = page.next
            } while cursor != nil
            #expect(seen.count == expected.count)
            #expect(Set(seen) == expected)
        }
    }

    @Test func aStoreOfTheEarlierLayoutIsMigratedWithEveryKey() throws {
        let path = directory.path + "/mapping.sqlite"
        let codec = MappingKeyCodec(hashesKeys: true)
        do {
            let pool = try DatabasePool(path: path)
            try MappingStore.migrator.migrate(pool, upTo: "v5")
            try pool.write { db in
                for index in 0..<500 {
                    try db.execute(
                        sql: "INSERT INTO record (shard, created_at, updated_at) VALUES (?, ?, ?)",
                        arguments: ["db-\(index % 3 + 1)", 1_000 + index, 2_000 + index]
                    )
                    let record = db.lastInsertedRowID
                    for key in Self.keys(ofRecord: index) {
                        try db.execute(
                            sql: "INSERT INTO lookup_key (key, record_id) VALUES (?, ?)",
                            arguments: [codec.storedValue(for: key), record]
                        )
                    }
                }
            }
            try pool.close()
        }

        let store = try MappingStore(path: path, keyCodec: codec)
        for index in 0..<500 {
            let keys = Self.keys(ofRecord: index)
            let record = try #require(try store.record(forKey: keys[0]))
            #expect(record.shard == "db-\(index % 3 + 1)")
            for key in keys { #expect(try store.record(forKey: key)?.id == record.id) }
            #expect(try store.lookupKeys(ofKey: keys[0]).sorted() == keys.map(Self.hex).sorted())
            let mapping = try #require(try store.mapping(forKey: keys.last!))
            #expect(mapping.createdAt == Int64(1_000 + index) && mapping.updatedAt == Int64(2_000 + index))
        }
        #expect(try store.statistics().mapValues(\.count) == ["db-1": 167, "db-2": 167, "db-3": 166])
        // Writes work in the new layout, and the migrated keys stay taken.
        #expect(try store.allocate(key: "user:7:alias") { _ in ("db-2", false) }.created == false)
        #expect(try store.allocate(key: "user:new") { _ in ("db-2", false) }.created)
        #expect(try store.statistics()["db-2"]?.count == 168)
    }

    /// Record `index`'s keys: one, or three for every fifth record.
    static func keys(ofRecord index: Int) -> [String] {
        index % 5 == 2 ? ["user:\(index)", "user:\(index):alias", "email:\(index)"] : ["user:\(index)"]
    }

    static func hex(_ key: String) -> String {
        MappingKeyCodec(hashesKeys: true).displayed(MappingKeyCodec(hashesKeys: true).storedValue(for: key))
    }
}
