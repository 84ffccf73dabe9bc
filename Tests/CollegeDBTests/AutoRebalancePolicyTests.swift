import Foundation
import Testing

@testable import CollegeDB

@Suite struct AutoRebalancePolicyTests {
    @Test func quietHoursParseAndMayWrapMidnight() throws {
        let night = try #require(QuietHours(parsing: "22:30-04:00"))
        #expect(night.description == "22:30-04:00")
        #expect(night.contains(minute: 22 * 60 + 30))
        #expect(night.contains(minute: 0))
        #expect(night.contains(minute: 3 * 60 + 59))
        #expect(!night.contains(minute: 4 * 60))
        #expect(!night.contains(minute: 12 * 60))
        let morning = try #require(QuietHours(parsing: "01:00-05:00"))
        #expect(morning.contains(minute: 60) && !morning.contains(minute: 0) && !morning.contains(minute: 300))
        for bad in [
            "", "1:00-05:00", "01:00", "01:00-01:00", "24:00-01:00", "01:60-02:00", "01:00-02:00-03:00", "aa:bb-cc:dd",
        ] {
            #expect(QuietHours(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func quietHoursUseTheGivenTimeZone() throws {
        let window = try #require(QuietHours(parsing: "01:00-02:00"))
        let oneThirtyUTC = Date(timeIntervalSince1970: 90 * 60)
        #expect(window.contains(oneThirtyUTC, timeZone: TimeZone(identifier: "UTC")!))
        #expect(!window.contains(oneThirtyUTC, timeZone: TimeZone(identifier: "Asia/Tokyo")!))
    }

    func distribution(_ records: [Int64], draining: Set<Int> = []) -> ShardDistribution {
        ShardDistribution(
            shards: records.enumerated().map {
                .init(
                    shard: "s\($0.offset)",
                    records: $0.element,
                    rows: nil,
                    sizeBytes: nil,
                    draining: draining.contains($0.offset)
                )
            },
            tolerance: 1.2
        )
    }

    @Test func anEmptyOrOverloadedShardIsOutOfTolerance() {
        #expect(AutoRebalancePolicy.imbalance(of: distribution([100, 100, 100])) == 1)
        #expect(AutoRebalancePolicy.imbalance(of: distribution([100, 100, 100, 0])) == .infinity)
        #expect(AutoRebalancePolicy.imbalance(of: distribution([150, 50])) == 2, "the mean over the least loaded")
        #expect(AutoRebalancePolicy.imbalance(of: distribution([120, 80])) == 1.25)
        #expect(AutoRebalancePolicy.imbalance(of: distribution([0, 0])) == 1, "nothing to balance")
        #expect(
            AutoRebalancePolicy.imbalance(of: distribution([100, 100, 0], draining: [2])) == 1,
            "a drained shard is meant to empty"
        )
    }
}
