extension Duration {
    /// Whole milliseconds, rounded down, saturating at `Int64`'s ends.
    package var wholeMilliseconds: Int64 {
        Self.saturating(components.seconds, 1000, components.attoseconds / 1_000_000_000_000_000)
    }

    /// Whole nanoseconds, rounded down, saturating at `Int64`'s ends.
    package var wholeNanoseconds: Int64 {
        Self.saturating(components.seconds, 1_000_000_000, components.attoseconds / 1_000_000_000)
    }

    /// Milliseconds with their fraction, as D1 reports a statement's `duration`.
    package var fractionalMilliseconds: Double {
        Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15
    }

    /// Seconds with their fraction.
    package var fractionalSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// Seconds, as people write them: `5`, `0.25`.
    package var secondsDescription: String {
        let seconds = fractionalSeconds
        return seconds == seconds.rounded() && abs(seconds) < 1e15 ? String(Int64(seconds)) : String(seconds)
    }

    /// `whole * scale + part`, held at `Int64`'s ends instead of trapping.
    private static func saturating(_ whole: Int64, _ scale: Int64, _ part: Int64) -> Int64 {
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: scale)
        guard !overflow else { return whole < 0 ? .min : .max }
        let (sum, overflowed) = scaled.addingReportingOverflow(part)
        return overflowed ? (part < 0 ? .min : .max) : sum
    }
}
