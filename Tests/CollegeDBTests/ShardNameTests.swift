import Testing

@testable import CollegeDB

/// The one grammar of shard names: what is a name, and what is refused with what message.
@Suite struct ShardNameTests {
    @Test func namesOfLettersDigitsDashesUnderscoresAndDotsAreValid() {
        for name in ["db-1", "tenant_42", "eu.west.1", "A", String(repeating: "x", count: 128), ".hidden", "a..b"] {
            #expect(ShardName.isValid(name), "\(name)")
        }
    }

    @Test func everythingElseIsRefusedSayingWhy() {
        let refused: [(String, String)] = [
            ("", "must not be empty"),
            (".", "is not a shard name"),
            ("..", "is not a shard name"),
            ("../x", "letters, digits"),
            ("a/b", "letters, digits"),
            ("x y", "letters, digits"),
            ("x\u{1B}[31m", "\\u{1B}"),
            ("é", "letters, digits"),
            ("q'\"", "letters, digits"),
            (String(repeating: "x", count: 129), "at most 128"),
        ]
        for (name, reason) in refused {
            #expect(!ShardName.isValid(name), "\(name)")
            #expect(throws: CollegeDBError.self) { try ShardName.validate(name) }
            #expect(
                ShardName.problem(with: name)?.contains(reason) == true,
                "\(name): \(ShardName.problem(with: name) ?? "")"
            )
        }
    }
}
