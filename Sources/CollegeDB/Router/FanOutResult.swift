/// One shard's part of a fan-out call: its result, or the error it alone failed with.
public struct FanOutResult: Sendable {
    public var shard: String
    public var outcome: Result<QueryResult, CollegeDBError>
}
