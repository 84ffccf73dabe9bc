import Foundation

/// A daily window of local time, such as `01:00-05:00`; it may wrap midnight (`22:00-04:00`).
public struct QuietHours: Sendable, Hashable, CustomStringConvertible {
    /// Minutes after midnight at which the window opens.
    public var start: Int
    /// Minutes after midnight at which the window closes (not included).
    public var end: Int

    /// Parses `HH:MM-HH:MM`; nil when the text is not that, or the two times are equal.
    public init?(parsing text: String) {
        let bounds = text.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count == 2, let start = Self.minutes(bounds[0]), let end = Self.minutes(bounds[1]), start != end
        else { return nil }
        self.start = start
        self.end = end
    }

    /// Whether `minute` (after midnight) falls in the window.
    public func contains(minute: Int) -> Bool {
        start < end ? (start <= minute && minute < end) : (minute >= start || minute < end)
    }

    /// Whether `date` falls in the window, in `timeZone` (the host's by default).
    public func contains(_ date: Date, timeZone: TimeZone = .current) -> Bool {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        return contains(minute: (parts.hour ?? 0) * 60 + (parts.minute ?? 0))
    }

    public var description: String {
        func clock(_ minutes: Int) -> String {
            let hours = String(minutes / 60)
            let rest = String(minutes % 60)
            return String(repeating: "0", count: 2 - hours.count) + hours + ":"
                + String(repeating: "0", count: 2 - rest.count) + rest
        }
        return "\(clock(start))-\(clock(end))"
    }

    private static func minutes(_ text: Substring) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCII) }),
            let hours = Int(parts[0]), let minutes = Int(parts[1]), (0..<24).contains(hours), (0..<60).contains(minutes)
        else { return nil }
        return hours * 60 + minutes
    }
}
