import Testing

@testable import CollegeDB

@Suite struct RendezvousHashingTests {
    static let keys = (0..<100_000).map { "user:\($0)" }

    static func assignments(_ shards: [String]) -> [String] {
        let candidates = shards.map { ShardCandidate(name: $0) }
        return keys.map { RendezvousHashing.select(key: $0, among: candidates)!.name }
    }

    @Test(arguments: [1, 2, 3, 4, 7])
    func addingAShardMovesAboutOneInNPlusOneKeysAllToTheNewShard(existing: Int) {
        let before = Self.assignments((1...existing).map { "db-\($0)" })
        let after = Self.assignments((1...existing + 1).map { "db-\($0)" })
        let moved = zip(before, after).filter { $0 != $1 }
        let expected = 1.0 / Double(existing + 1)
        let fraction = Double(moved.count) / Double(Self.keys.count)
        #expect(abs(fraction - expected) < 0.01, "moved \(fraction), expected about \(expected)")
        #expect(moved.allSatisfy { $0.1 == "db-\(existing + 1)" })
    }

    @Test func removingAnyShardMovesOnlyItsOwnKeys() {
        let shards = ["db-east", "db-west", "db-eu", "db-ap", "db-oc"]
        let before = Self.assignments(shards)
        for removed in shards {
            let after = Self.assignments(shards.filter { $0 != removed })
            for (old, new) in zip(before, after) where old != new {
                #expect(old == removed)
            }
            let ownKeys = before.filter { $0 == removed }.count
            #expect(zip(before, after).filter { $0 != $1 }.count == ownKeys)
        }
    }

    @Test func shardOrderDoesNotMatterAndKeysSpreadEvenly() {
        let forward = Self.assignments(["a", "b", "c", "d"])
        let backward = Self.assignments(["d", "c", "b", "a"])
        #expect(forward == backward)
        for shard in ["a", "b", "c", "d"] {
            let share = Double(forward.filter { $0 == shard }.count) / Double(Self.keys.count)
            #expect(abs(share - 0.25) < 0.01)
        }
    }

    @Test func weightsSetTheShares() {
        let candidates = [ShardCandidate(name: "small", weight: 1), ShardCandidate(name: "large", weight: 3)]
        let large = Self.keys.filter { RendezvousHashing.select(key: $0, among: candidates)!.name == "large" }.count
        #expect(abs(Double(large) / Double(Self.keys.count) - 0.75) < 0.01)
    }
}
