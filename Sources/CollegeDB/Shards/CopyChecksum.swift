import GRDB

/// An order-independent checksum of rows, as an SQL aggregate: each row's text (its values
/// written so that type and bytes count, and joined) is hashed, and the hashes are summed.
/// A move compares the checksum of the rows it read on the source with that of the rows it
/// inserted on the target, in one pass over each. The daemon's own connections to a shard
/// have it (``ShardDatabase/configuration()``). The hash is seeded per process, so two
/// checksums compare only within one daemon's run, as a copy's verification does.
struct CopyChecksum: DatabaseAggregate {
    /// The function's name in SQL: `collegedb_copy_checksum(text)`.
    static let name = "collegedb_copy_checksum"
    static let function = DatabaseFunction(name, argumentCount: 1, pure: true, aggregate: CopyChecksum.self)

    /// Rows counted and their checksum (none for no rows).
    struct Total: Equatable {
        let rows: Int
        let checksum: Int64?
    }

    private var sum = 0

    init() {}

    mutating func step(_ dbValues: [DatabaseValue]) throws {
        var hasher = Hasher()
        if var text = dbValues.first.flatMap(String.fromDatabaseValue) {
            // The bytes, not the characters: canonically equivalent texts differ here (the row
            // text is ASCII: text values come as hex).
            text.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        }
        sum &+= hasher.finalize()
    }

    func finalize() throws -> (any DatabaseValueConvertible)? { Int64(sum) }
}
