import Testing

@testable import CollegeDBJSON

@Suite struct JSONCodecTests {
    func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

    @Test func integersAreExactAndToldApartFromReals() throws {
        #expect(try parse("9223372036854775807") == .integer(.max))
        #expect(try parse("-9223372036854775808") == .integer(.min))
        #expect(try parse("1") == .integer(1))
        #expect(try parse("1.0") == .double(1))
        #expect(try parse("1e2") == .double(100))
        // Numbers neither Int64 nor Double holds keep their text, and are written back as they came.
        for text in [
            "9223372036854775808", "-123456789012345678901234567890", "1e999", "-1E400", "1e-400", "-2.5e-999",
        ] {
            #expect(try parse(text) == .number(text))
            #expect(String(decoding: JSONSerializer.serialize(try parse(text)), as: UTF8.self) == text)
        }
        #expect(try parse("9223372036854775808").doubleValue == 9_223_372_036_854_775_808)
        #expect(try parse("1e999").doubleValue == .infinity)
        #expect(String(decoding: JSONSerializer.serialize(.double(1)), as: UTF8.self) == "1.0")
        #expect(String(decoding: JSONSerializer.serialize(.integer(.min)), as: UTF8.self) == "-9223372036854775808")
        #expect(String(decoding: JSONSerializer.serialize(.double(.infinity)), as: UTF8.self) == "1e999")
    }

    @Test func stringsHandleEscapesSurrogatesAndUnicode() throws {
        #expect(try parse(#""a\"b\\c\/d\n\u00e9\ud83d\ude00""#) == .string("a\"b\\c/d\né😀"))
        #expect(try parse("\"∑ 😀\"") == .string("∑ 😀"))
        let text = "quote \" backslash \\ newline \n tab \t bell \u{07} ∑"
        #expect(try JSONParser.parse(JSONSerializer.serialize(.string(text))) == .string(text))
        #expect(!JSONSerializer.serialize(.string("a\nb\r")).contains(UInt8(ascii: "\n")))
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "tru", "\"\\x\"", "\"\\ud800\"", "\"a\u{01}\"", "1 2", "nul",
    ])
    func malformedInputIsRejected(_ text: String) {
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(Array(text.utf8)) }
    }

    @Test func invalidUTF8AndDeepNestingAreRejected() {
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse([0x22, 0xC3, 0x28, 0x22]) }
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONParser.SyntaxError.self) { try JSONParser.parse(Array(deep.utf8)) }
    }

    @Test func objectsKeepMemberOrder() throws {
        let value = try parse(#"{"z":1,"a":[true,null,{"m":-0.5}]}"#)
        #expect(
            String(decoding: JSONSerializer.serialize(value), as: UTF8.self) == #"{"z":1,"a":[true,null,{"m":-0.5}]}"#
        )
    }
}
