import Foundation
import GRDB
import Testing

@testable import CollegeDB

/// The JSON arrays the engine hands SQLite's `json_each`, read back by SQLite itself.
@Suite struct JSONArrayTextTests {
    /// What SQLite's `json_each` reads from `json`, each value with its SQL type.
    private func readBySQLite(_ json: String) throws -> [String] {
        try DatabaseQueue().read { db in
            try String.fetchAll(
                db,
                sql: "SELECT typeof(value) || ':' || value FROM json_each(?) ORDER BY key",
                arguments: [json]
            )
        }
    }

    @Test func integersReadBackAsTheSameIntegersInOrder() throws {
        let values: [Int64] = [0, -1, 42, Int64.min, Int64.max]
        #expect(try readBySQLite(JSONArrayText.integers(values)) == values.map { "integer:\($0)" })
        #expect(try readBySQLite(JSONArrayText.integers([])) == [])
    }

    @Test func anyTextReadsBackAsItselfHoweverHostile() throws {
        let texts = [
            "plain", "", "quote \" inside", "back\\slash", "new\nline\ttab\r", "\u{1}start", "\u{1F}unit",
            "é and e\u{301}", "emoji 🎓", "'; DROP TABLE users; --", "\u{7F}delete", "[1,2]",
        ]
        #expect(try readBySQLite(JSONArrayText.texts(texts)) == texts.map { "text:\($0)" })
        // Foundation reads the same JSON the same way, a NUL too (which SQLite's text ends at).
        let withNUL = texts + ["\u{0}nul"]
        let parsed = try JSONSerialization.jsonObject(with: Data(JSONArrayText.texts(withNUL).utf8)) as? [String]
        #expect(parsed == withNUL)
    }

    @Test func aCanonicalIntegerTextIsAlsoPassedAsAnIntegerAndNoOtherIs() throws {
        let json = JSONArrayText.texts(["42", "042", "-7", "+7", "9223372036854775808", "x"], alsoAsIntegers: true)
        #expect(
            try readBySQLite(json) == [
                "text:42", "integer:42", "text:042", "text:-7", "integer:-7", "text:+7", "text:9223372036854775808",
                "text:x",
            ]
        )
    }
}
