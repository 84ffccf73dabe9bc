import Testing

@testable import CollegeDB

@Suite struct StrategyTests {
    let located = [
        ShardCandidate(name: "db-west", region: .wnam, priority: 2),
        ShardCandidate(name: "db-east", region: .enam),
        ShardCandidate(name: "db-eu", region: .weur),
    ]

    @Test func locationPicksTheShardsOfTheNearestRegion() {
        for key in ["a", "b", "c", "user:42"] {
            #expect(LocationStrategy.select(key: key, among: located, target: .wnam)?.name == "db-west")
            #expect(LocationStrategy.select(key: key, among: located, target: .weur)?.name == "db-eu")
            #expect(LocationStrategy.select(key: key, among: located, target: .eeur)?.name == "db-eu")
        }
    }

    @Test func distancesAreGreatCircle() {
        #expect(Region.apac.distance(to: .oc) < Region.apac.distance(to: .weur))
        #expect(abs(Region.enam.distance(to: .weur) - 5570) < 50, "New York to London is about 5,570 km")
        #expect(Region.me.distance(to: .me) == 0)
    }

    @Test func priorityWeighsShardsInsideTheNearestRegion() {
        let shards = [
            ShardCandidate(name: "west-a", region: .wnam, priority: 3),
            ShardCandidate(name: "west-b", region: .wnam, priority: 1),
            ShardCandidate(name: "east", region: .enam, priority: 100),
        ]
        let picks = (0..<20_000).map { LocationStrategy.select(key: "k\($0)", among: shards, target: .wnam)!.name }
        #expect(!picks.contains("east"))
        #expect(abs(Double(picks.filter { $0 == "west-a" }.count) / 20_000 - 0.75) < 0.02)
    }

    @Test func roundRobinFollowsThePosition() {
        let selection = ShardSelection()
        var generator = SystemRandomNumberGenerator()
        let shards = ["db-1", "db-2", "db-3"].map { ShardCandidate(name: $0) }
        let picks = (0..<4).map {
            selection.select(
                .roundRobin,
                key: "k",
                candidates: shards,
                roundRobinPosition: Int64($0),
                using: &generator
            )
        }
        #expect(picks.map(\.shard) == ["db-1", "db-2", "db-3", "db-1"])
        #expect(picks.allSatisfy { $0.consumesPosition })
    }

    @Test func randomUsesEveryShard() {
        let selection = ShardSelection()
        var generator = SystemRandomNumberGenerator()
        let shards = ["db-1", "db-2", "db-3"].map { ShardCandidate(name: $0) }
        let picks = Set(
            (0..<300).map {
                selection.select(.random, key: "k\($0)", candidates: shards, roundRobinPosition: 0, using: &generator)
                    .shard
            }
        )
        #expect(picks == ["db-1", "db-2", "db-3"])
    }
}
