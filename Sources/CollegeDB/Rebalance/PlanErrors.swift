import Foundation

/// A plan's error list as the catalogs keep it: a JSON array of strings.
enum PlanErrors {
    /// The list in `text`. A text that is not one is reported as an error of its own, never
    /// read as no errors.
    static func decoded(_ text: String) -> [String] {
        do {
            return try JSONDecoder().decode([String].self, from: Data(text.utf8))
        } catch {
            return ["the plan's error list in the catalog is not readable: \(text.prefix(200))"]
        }
    }
}
