import Foundation

/// SQLite's sort order for values of any storage class, as `ORDER BY ... COLLATE BINARY`
/// sorts: NULL first, then numbers (integers and reals compared by value), then text by its
/// UTF-8 bytes, then blobs by their bytes. Merging rows that shards sorted themselves needs
/// exactly their order.
enum SQLiteOrder {
    /// -1, 0 or 1 as `left` sorts before, with, or after `right`.
    static func compare(_ left: SQLValue, _ right: SQLValue) -> Int {
        let classes = (rank(left), rank(right))
        guard classes.0 == classes.1 else { return classes.0 < classes.1 ? -1 : 1 }
        switch (left, right) {
        case (.integer(let a), .integer(let b)):
            return a == b ? 0 : (a < b ? -1 : 1)
        case (.text(let a), .text(let b)):
            return bytes(a.utf8, b.utf8)
        case (.blob(let a), .blob(let b)):
            return bytes(a, b)
        case (.null, .null):
            return 0
        default:
            return numbers(left, right)
        }
    }

    private static func rank(_ value: SQLValue) -> Int {
        switch value {
        case .null: return 0
        case .integer, .real, .boolean: return 1
        case .text, .json: return 2
        case .blob: return 3
        }
    }

    /// An integer and a real, or two reals, compared by value without losing an integer's
    /// precision beyond 2^53.
    private static func numbers(_ left: SQLValue, _ right: SQLValue) -> Int {
        switch (left, right) {
        case (.real(let a), .real(let b)):
            return a == b ? 0 : (a < b ? -1 : 1)
        case (.integer(let a), .real(let b)):
            return -realAgainstInteger(b, a)
        case (.real(let a), .integer(let b)):
            return realAgainstInteger(a, b)
        default:
            return 0
        }
    }

    private static func realAgainstInteger(_ real: Double, _ integer: Int64) -> Int {
        if real.isNaN { return -1 }
        if real < -9.223372036854775808e18 { return -1 }
        if real >= 9.223372036854775808e18 { return 1 }
        let whole = Int64(real.rounded(.down))
        if whole != integer { return whole < integer ? -1 : 1 }
        return real > Double(whole) ? 1 : 0
    }

    private static func bytes<A: Sequence<UInt8>, B: Sequence<UInt8>>(_ a: A, _ b: B) -> Int {
        var left = a.makeIterator()
        var right = b.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil): return 0
            case (nil, _): return -1
            case (_, nil): return 1
            case (let x?, let y?): if x != y { return x < y ? -1 : 1 }
            }
        }
    }
}
