import CollegeDBJSON
import Testing

@testable import CollegeDB
@testable import CollegeDBRPC

/// `health` stays small with many shards: past 1,000 only the shards that are not ok are
/// listed, and the counts by state always are.
@Suite struct HealthAnswerTests {
    func report(_ shards: [(String, ShardHealth)]) -> HealthReport {
        HealthReport(status: .degraded, mappingStoreHealthy: true, shards: shards, uptimeSeconds: 1, version: "v")
    }

    func member(_ name: String, of answer: JSONValue) -> JSONValue? {
        guard case .object(let members) = answer else { return nil }
        return members.first { $0.0 == name }?.1
    }

    @Test func upToAThousandShardsEveryOneIsListed() throws {
        let shards = (1...1000).map { ("s\($0)", $0 == 7 ? ShardHealth.unavailable : .ok) }
        let answer = MethodTable.healthAnswer(report(shards), backup: nil)
        guard case .object(let listed)? = member("shards", of: answer) else { throw Failure() }
        #expect(listed.count == 1000)
        #expect(member("shardCounts", of: answer) == .object([("ok", .integer(999)), ("unavailable", .integer(1))]))
        #expect(member("backup", of: answer) == nil)
    }

    @Test func pastAThousandOnlyTheShardsThatAreNotOkAreListed() throws {
        let shards = (1...100_000).map { ("s\($0)", $0 % 50_000 == 0 ? ShardHealth.failed : .ok) }
        let answer = MethodTable.healthAnswer(
            report(shards),
            backup: BackupProgress(directory: "/b", copied: 2, shards: 5)
        )
        #expect(
            member("shards", of: answer) == .object([("s50000", .string("failed")), ("s100000", .string("failed"))])
        )
        #expect(member("shardCounts", of: answer) == .object([("failed", .integer(2)), ("ok", .integer(99_998))]))
        #expect(
            member("backup", of: answer)
                == .object([("directory", .string("/b")), ("copied", .integer(2)), ("shards", .integer(5))])
        )
    }

    struct Failure: Error {}
}
