/// The text of a JSON array, built for one statement argument that SQL reads with
/// `json_each(?)`: how the engine passes a list of record ids, rowids or key texts to SQLite in
/// one statement. Written directly (a batch passes thousands of values, and Foundation's
/// encoders cost microseconds per value).
enum JSONArrayText {
    /// `[1,2,3]` for integers.
    static func integers(_ values: some Sequence<Int64>) -> String {
        "[" + values.lazy.map(String.init).joined(separator: ",") + "]"
    }

    /// The texts as JSON strings; with `alsoAsIntegers`, each also as a JSON integer when it is
    /// an integer's canonical text (`"42"` and `42`, not `"042"`), so that
    /// `IN (SELECT value FROM json_each(?))` finds a column of any affinity that holds the key
    /// as text or as an integer.
    static func texts(_ texts: some Sequence<String>, alsoAsIntegers: Bool = false) -> String {
        var json = "["
        var first = true
        for text in texts {
            if !first { json += "," }
            first = false
            appendString(text, to: &json)
            if alsoAsIntegers, let integer = Int64(text), String(integer) == text { json += "," + text }
        }
        return json + "]"
    }

    /// `text` as a JSON string: quotation mark, reverse solidus and control characters escaped,
    /// everything else as it is (JSON text is Unicode).
    private static func appendString(_ text: String, to json: inout String) {
        json += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": json += "\\\""
            case "\\": json += "\\\\"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                json += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: json.unicodeScalars.append(scalar)
            }
        }
        json += "\""
    }
}
