/// Weighted rendezvous (highest-random-weight) hashing: every key scores every shard by a
/// stable hash of the pair and goes to the best score. Adding a shard moves only the keys the
/// new shard wins (about 1/(N+1)); removing one moves only its own keys; shard order is
/// irrelevant.
public enum RendezvousHashing {
    /// The winning candidate for `key`, or nil when there are none.
    public static func select(
        key: String,
        among candidates: [ShardCandidate],
        weight: (ShardCandidate) -> Double = \.weight
    )
        -> ShardCandidate?
    {
        let keyHash = StableHash.fnv1a64(key)
        var best: (candidate: ShardCandidate, score: Double)?
        for candidate in candidates where weight(candidate) > 0 {
            let mixed = StableHash.mix(keyHash ^ StableHash.fnv1a64(candidate.name))
            // A uniform number in (0, 1), then the weighted score -w / ln(u) (Schindelhauer).
            let unit = (Double(mixed >> 11) + 0.5) / 9_007_199_254_740_992
            let score = -weight(candidate) / _log(unit)
            if let current = best,
                current.score > score || (current.score == score && current.candidate.name < candidate.name)
            {
                continue
            }
            best = (candidate, score)
        }
        return best?.candidate
    }
}

/// Process-independent 64-bit hashing (Swift's `Hasher` is seeded per process).
enum StableHash {
    static func fnv1a64(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The SplitMix64 finalizer: every input bit affects every output bit.
    static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
