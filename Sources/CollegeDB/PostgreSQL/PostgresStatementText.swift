/// A client's SQL for a PostgreSQL shard, read the way the server's lexer reads it: string
/// literals (`'…'` with `''`, `E'…'` with backslash escapes), quoted identifiers (`"…"`),
/// dollar-quoted bodies (`$tag$…$tag$`), `--` and nested `/* */` comments.
///
/// It gives the statement with SQLite-style `?` placeholders numbered `$1`, `$2`, … (only
/// outside literals, identifiers and comments, and only when the text has no `$n` of its own,
/// so that jsonb's `?` operators keep working in `$n` statements), the number of parameters,
/// whether more than one statement follows, and the statement's first keyword.
struct PostgresStatementText: Sendable, Equatable {
    /// The statement as the server gets it.
    let sql: String
    /// The highest parameter number used.
    let parameterCount: Int
    /// Whether the text holds a second statement after a `;`.
    let hasSecondStatement: Bool
    /// The first word outside comments, uppercased (`SELECT`, `BEGIN`, …); empty when none.
    let firstKeyword: String
    /// The second word outside comments, uppercased; empty when none.
    let secondKeyword: String
    /// Where each `;` that ends a statement is, in bytes of the original text.
    let statementEnds: [Int]

    /// The statements of `script`, split at the `;`s that end them; empty ones dropped.
    static func statements(in script: String) -> [String] {
        let bytes = Array(script.utf8)
        var statements: [String] = []
        var start = 0
        for end in PostgresStatementText(script).statementEnds + [bytes.count] {
            let piece = String(decoding: bytes[start..<end], as: UTF8.self)
            if PostgresStatementText(piece).firstKeyword != "" { statements.append(piece) }
            start = min(end + 1, bytes.count)
        }
        return statements
    }

    init(_ text: String) {
        let bytes = Array(text.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + 8)
        var questionMarks = 0
        var highestDollar = 0
        var sawStatementEnd = false
        var second = false
        var words: [String] = []
        var questionOffsets: [Int] = []
        var ends: [Int] = []
        var index = 0

        func isIdentifierByte(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte >= 0x80
        }

        while index < bytes.count {
            let byte = bytes[index]
            let next: UInt8? = index + 1 < bytes.count ? bytes[index + 1] : nil
            let start = index
            switch byte {
            case UInt8(ascii: "-") where next == UInt8(ascii: "-"):
                while index < bytes.count, bytes[index] != UInt8(ascii: "\n") { index += 1 }
            case UInt8(ascii: "/") where next == UInt8(ascii: "*"):
                var depth = 0
                repeat {
                    if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "/"), bytes[index + 1] == UInt8(ascii: "*")
                    {
                        depth += 1
                        index += 2
                    } else if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "*"),
                        bytes[index + 1] == UInt8(ascii: "/")
                    {
                        depth -= 1
                        index += 2
                    } else {
                        index += 1
                    }
                } while depth > 0 && index < bytes.count
            case UInt8(ascii: "'"), UInt8(ascii: "\""):
                let escapes =
                    byte == UInt8(ascii: "'") && start > 0 && (bytes[start - 1] | 0x20) == UInt8(ascii: "e")
                    && (start < 2 || !isIdentifierByte(bytes[start - 2]))
                index += 1
                while index < bytes.count {
                    if escapes && bytes[index] == UInt8(ascii: "\\") {
                        // A backslash may end the text: the string is then unterminated.
                        index = min(index + 2, bytes.count)
                        continue
                    }
                    if bytes[index] == byte {
                        if index + 1 < bytes.count, bytes[index + 1] == byte {
                            index += 2
                            continue
                        }
                        index += 1
                        break
                    }
                    index += 1
                }
            case UInt8(ascii: "$"):
                var end = index + 1
                while end < bytes.count, bytes[end] >= 0x30, bytes[end] <= 0x39 { end += 1 }
                if end > index + 1, start == 0 || !isIdentifierByte(bytes[start - 1]) {
                    highestDollar = max(
                        highestDollar,
                        Int(String(decoding: bytes[(index + 1)..<end], as: UTF8.self)) ?? 0
                    )
                    index = end
                    break
                }
                var tagEnd = index + 1
                while tagEnd < bytes.count, isIdentifierByte(bytes[tagEnd]) { tagEnd += 1 }
                if tagEnd < bytes.count, bytes[tagEnd] == UInt8(ascii: "$"),
                    start == 0 || !isIdentifierByte(bytes[start - 1]),
                    tagEnd == index + 1 || !(bytes[index + 1] >= 0x30 && bytes[index + 1] <= 0x39)
                {
                    let tag = Array(bytes[index...tagEnd])
                    index = tagEnd + 1
                    while index < bytes.count {
                        if bytes[index] == UInt8(ascii: "$"), index + tag.count <= bytes.count,
                            bytes[index..<(index + tag.count)].elementsEqual(tag)
                        {
                            index += tag.count
                            break
                        }
                        index += 1
                    }
                } else {
                    index += 1
                }
            case UInt8(ascii: "?"):
                if !sawStatementEnd { questionOffsets.append(output.count) }
                questionMarks += 1
                index += 1
            case UInt8(ascii: ";"):
                ends.append(index)
                sawStatementEnd = true
                index += 1
            default:
                if isIdentifierByte(byte) {
                    while index < bytes.count, isIdentifierByte(bytes[index]) { index += 1 }
                    if sawStatementEnd {
                        second = true
                    } else if words.count < 2 {
                        words.append(String(decoding: bytes[start..<index], as: UTF8.self).uppercased())
                    }
                } else {
                    if sawStatementEnd, byte > 0x20 { second = true }
                    index += 1
                }
            }
            output.append(contentsOf: bytes[start..<index])
        }
        let translates = highestDollar == 0 && questionMarks > 0
        if translates {
            var translated: [UInt8] = []
            translated.reserveCapacity(output.count + questionOffsets.count * 2)
            var previous = 0
            for (number, offset) in questionOffsets.enumerated() {
                translated.append(contentsOf: output[previous..<offset])
                translated.append(contentsOf: Array("$\(number + 1)".utf8))
                previous = offset + 1
            }
            translated.append(contentsOf: output[previous...])
            sql = String(decoding: translated, as: UTF8.self)
            parameterCount = questionOffsets.count
        } else {
            sql = text
            parameterCount = highestDollar
        }
        hasSecondStatement = second
        statementEnds = ends
        firstKeyword = words.first ?? ""
        secondKeyword = words.count > 1 ? words[1] : ""
    }
}
