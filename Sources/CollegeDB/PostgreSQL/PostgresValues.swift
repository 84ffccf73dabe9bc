import Foundation
import NIOCore
import PostgresNIO

/// How values cross between the contract's JSON values and PostgreSQL's types.
///
/// Bindings go as untyped text (PostgreSQL infers each parameter's type from where it is
/// used, as it does for a literal), except blobs, which go as `bytea`. Results come in
/// PostgreSQL's binary format and map as the README's table says: integers exactly, `numeric`
/// as its exact decimal text, timestamps and dates as ISO 8601 text, `json`/`jsonb` as JSON,
/// `bytea` as a blob, `boolean` as true/false. A column of another type is refused with the
/// advice to cast it to text.
enum PostgresValues {
    /// The bindings of `values`, in order.
    static func bindings(_ values: [SQLValue]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: values.count)
        for value in values {
            switch value {
            case .null: bindings.appendNull()
            case .blob(let data): bindings.append(ByteBuffer(bytes: data))
            default: bindings.append(UntypedText(value))
            }
        }
        return bindings
    }

    /// A parameter sent as text with no type, so the server infers its type from its use.
    struct UntypedText: PostgresDynamicTypeEncodable {
        let text: String

        init(_ value: SQLValue) {
            switch value {
            case .integer(let integer): text = String(integer)
            case .real(let real):
                text = real.isNaN ? "NaN" : real.isInfinite ? (real < 0 ? "-Infinity" : "Infinity") : "\(real)"
            case .boolean(let flag): text = flag ? "true" : "false"
            case .text(let string), .json(let string): text = string
            case .null, .blob: text = ""
            }
        }

        var psqlType: PostgresDataType { .null }
        var psqlFormat: PostgresFormat { .text }

        func encode<JSONEncoder: PostgresJSONEncoder>(
            into byteBuffer: inout ByteBuffer,
            context: PostgresEncodingContext<JSONEncoder>
        ) {
            byteBuffer.writeString(text)
        }
    }

    /// A column the daemon cannot return as it is.
    struct UnsupportedColumn: Error {
        let column: String
        let type: PostgresDataType
    }

    /// The value of one cell of a result row.
    static func value(of cell: PostgresCell) throws -> SQLValue {
        guard var bytes = cell.bytes else { return .null }
        if cell.format == .text { return .text(bytes.readString(length: bytes.readableBytes) ?? "") }
        switch cell.dataType {
        case .bool: return .boolean(bytes.readInteger(as: UInt8.self) != 0)
        case .int2: return .integer(Int64(bytes.readInteger(as: Int16.self) ?? 0))
        case .int4: return .integer(Int64(bytes.readInteger(as: Int32.self) ?? 0))
        case .int8: return .integer(bytes.readInteger(as: Int64.self) ?? 0)
        case .oid: return .integer(Int64(bytes.readInteger(as: UInt32.self) ?? 0))
        case .float4: return real(Double(Float(bitPattern: bytes.readInteger(as: UInt32.self) ?? 0)))
        case .float8: return real(Double(bitPattern: bytes.readInteger(as: UInt64.self) ?? 0))
        case .text, .varchar, .bpchar, .name, .char, .unknown, .xml, .json:
            return .text(bytes.readString(length: bytes.readableBytes) ?? "")
                .asJSON(cell.dataType == .json)
        case .jsonb:
            _ = bytes.readInteger(as: UInt8.self)  // the format version, 1
            return .json(bytes.readString(length: bytes.readableBytes) ?? "null")
        case .bytea: return .blob(Data(bytes.readableBytesView))
        case .numeric: return .text(numericText(&bytes))
        case .uuid:
            let hex = bytes.readableBytesView.lowercaseHex
            let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
                String(hex.dropFirst(range.lowerBound).prefix(range.count))
            }
            return .text(parts.joined(separator: "-"))
        case .date: return .text(dateText(days: Int64(bytes.readInteger(as: Int32.self) ?? 0)))
        case .time: return .text(timeText(microseconds: bytes.readInteger(as: Int64.self) ?? 0))
        case .timestamp: return .text(timestampText(microseconds: bytes.readInteger(as: Int64.self) ?? 0, utc: false))
        case .timestamptz: return .text(timestampText(microseconds: bytes.readInteger(as: Int64.self) ?? 0, utc: true))
        case .interval:
            let microseconds = bytes.readInteger(as: Int64.self) ?? 0
            let days = bytes.readInteger(as: Int32.self) ?? 0
            let months = bytes.readInteger(as: Int32.self) ?? 0
            return .text(intervalText(months: months, days: days, microseconds: microseconds))
        default:
            throw UnsupportedColumn(column: cell.columnName, type: cell.dataType)
        }
    }

    private static func real(_ value: Double) -> SQLValue {
        value.isFinite ? .real(value) : .text(value.isNaN ? "NaN" : value < 0 ? "-Infinity" : "Infinity")
    }

    /// `numeric`'s binary form (base-10000 digits, a weight, a sign, a display scale) as the
    /// exact decimal text the server would print.
    static func numericText(_ bytes: inout ByteBuffer) -> String {
        guard let count = bytes.readInteger(as: Int16.self), let weight = bytes.readInteger(as: Int16.self),
            let sign = bytes.readInteger(as: UInt16.self), let scale = bytes.readInteger(as: Int16.self)
        else { return "NaN" }
        switch sign {
        case 0xC000: return "NaN"
        case 0xD000: return "Infinity"
        case 0xF000: return "-Infinity"
        default: break
        }
        let digits = (0..<Int(count)).map { _ in Int(bytes.readInteger(as: Int16.self) ?? 0) }
        var integerPart = ""
        if weight < 0 {
            integerPart = "0"
        } else {
            for position in 0...Int(weight) {
                let digit = position < digits.count ? digits[position] : 0
                integerPart += position == 0 ? String(digit) : String(format: "%04d", digit)
            }
        }
        var fraction = ""
        if scale > 0 {
            var position = Int(weight) + 1
            while fraction.count < Int(scale) {
                let digit = position >= 0 && position < digits.count ? digits[position] : 0
                fraction += String(format: "%04d", digit)
                position += 1
            }
            fraction = "." + fraction.prefix(Int(scale))
        }
        return (sign == 0x4000 ? "-" : "") + integerPart + fraction
    }

    /// Days since 2000-01-01 as `YYYY-MM-DD` (proleptic Gregorian, as PostgreSQL counts).
    static func dateText(days: Int64) -> String {
        if days == Int64(Int32.max) { return "infinity" }
        if days == Int64(Int32.min) { return "-infinity" }
        let (year, month, day) = civilDate(daysSinceUnixEpoch: days + 10_957)
        return year < 0 || year > 9999
            ? String(format: "%lld-%02lld-%02lld", year, month, day)
            : String(format: "%04lld-%02lld-%02lld", year, month, day)
    }

    static func timeText(microseconds: Int64) -> String {
        let seconds = microseconds / 1_000_000
        let fraction = microseconds % 1_000_000
        let text = String(format: "%02lld:%02lld:%02lld", seconds / 3600, seconds / 60 % 60, seconds % 60)
        return fraction == 0 ? text : text + String(format: ".%06lld", fraction)
    }

    /// Microseconds since 2000-01-01 00:00 as ISO 8601: `2026-12-01T09:30:00.25` for a
    /// `timestamp`, with `Z` for a `timestamptz` (always in UTC).
    static func timestampText(microseconds: Int64, utc: Bool) -> String {
        if microseconds == Int64.max { return "infinity" }
        if microseconds == Int64.min { return "-infinity" }
        let perDay: Int64 = 86_400_000_000
        var days = microseconds / perDay
        var rest = microseconds % perDay
        if rest < 0 {
            days -= 1
            rest += perDay
        }
        var time = timeText(microseconds: rest)
        while time.contains("."), time.hasSuffix("0") { time.removeLast() }
        return dateText(days: days) + "T" + time + (utc ? "Z" : "")
    }

    /// An interval as ISO 8601's duration: `P1Y2M3DT4H5M6.5S`.
    static func intervalText(months: Int32, days: Int32, microseconds: Int64) -> String {
        var text = "P"
        if months / 12 != 0 { text += "\(months / 12)Y" }
        if months % 12 != 0 { text += "\(months % 12)M" }
        if days != 0 { text += "\(days)D" }
        if microseconds != 0 {
            text += "T"
            let hours = microseconds / 3_600_000_000
            let minutes = microseconds / 60_000_000 % 60
            let seconds = microseconds % 60_000_000
            if hours != 0 { text += "\(hours)H" }
            if minutes != 0 { text += "\(minutes)M" }
            if seconds != 0 {
                var secondsText = String(format: "%.6f", Double(seconds) / 1_000_000)
                while secondsText.hasSuffix("0") { secondsText.removeLast() }
                if secondsText.hasSuffix(".") { secondsText.removeLast() }
                text += secondsText + "S"
            }
        }
        return text == "P" ? "PT0S" : text
    }

    /// Year, month and day of a day count from 1970-01-01 (Howard Hinnant's `civil_from_days`).
    private static func civilDate(daysSinceUnixEpoch days: Int64) -> (Int64, Int64, Int64) {
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

extension SQLValue {
    fileprivate func asJSON(_ isJSON: Bool) -> SQLValue {
        guard isJSON, case .text(let text) = self else { return self }
        return .json(text)
    }
}
