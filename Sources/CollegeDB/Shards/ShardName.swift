/// The grammar of shard names, the same for the configuration, the flags and `registerShard`:
/// 1 to ``maximumLength`` characters from `A`–`Z`, `a`–`z`, `0`–`9`, `-`, `_` and `.`, other
/// than `.` and `..`. A name is a file name (`DATA_DIR/shards/NAME.sqlite`), a metric label and
/// a word in the status line, so it can neither leave the shards' directory nor carry quotes,
/// separators or terminal escapes.
public enum ShardName {
    /// The longest name: 128 characters.
    public static let maximumLength = 128

    /// Whether `name` follows the grammar.
    public static func isValid(_ name: String) -> Bool { problem(with: name) == nil }

    /// Checks `name` against the grammar.
    /// - Throws: `INVALID_PARAMS` saying what is wrong, under `field`.
    public static func validate(_ name: String, field: String = "shard") throws {
        if let problem = problem(with: name) { throw CollegeDBError.invalidParams("\(field): \(problem)") }
    }

    /// What is wrong with `name`, or nil.
    static func problem(with name: String) -> String? {
        if name.isEmpty { return "a shard name must not be empty" }
        if name.utf8.count > maximumLength {
            return "a shard name has at most \(maximumLength) characters (\(name.utf8.count) given)"
        }
        if name == "." || name == ".." { return "'\(name)' is not a shard name" }
        let allowed = name.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                return true
            default:
                return false
            }
        }
        guard allowed else {
            // The name as Swift writes a literal: control characters escaped, quotes too.
            return "a shard name is made of letters, digits, '-', '_' and '.' only: "
                + String(reflecting: String(name.prefix(40)))
        }
        return nil
    }
}
