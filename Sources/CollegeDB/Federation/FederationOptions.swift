/// How `federateQuery` orders and cuts the merged rows.
public struct FederationOptions: Sendable, Hashable {
    /// A result column to order by; nil keeps shard order.
    public var orderBy: String?
    /// Descending instead of ascending. The default is ascending.
    public var descending: Bool
    /// At most this many rows; nil for all.
    public var limit: Int?
    /// Rows to skip after ordering. The default is 0.
    public var offset: Int

    public init(orderBy: String? = nil, descending: Bool = false, limit: Int? = nil, offset: Int = 0) {
        self.orderBy = orderBy
        self.descending = descending
        self.limit = limit
        self.offset = offset
    }
}
