/// Where a shard's adoption stands, as the mapping store records it.
public enum AdoptionState: String, Sendable, Codable {
    /// The daemon made the file, or found no owned rows in it: nothing to adopt.
    case native
    /// Its existing keys are being mapped; a restart resumes after the last whole chunk.
    case adopting
    /// Every existing key of its owned tables was mapped (or reported as a conflict).
    case adopted
}
