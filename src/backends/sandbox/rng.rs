//! Deterministic "randomness": every choice the simulator makes is a hash of the
//! seed and the things it concerns (pipeline, slot, activity, attempt), so the
//! same seed and clock always give the same estate, in any order of queries.

/// FNV-1a over the parts, then SplitMix64 to spread the bits.
pub fn hash(seed: u64, parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for part in parts {
        for byte in part.bytes() {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // A separator, so ("ab","c") and ("a","bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    splitmix(h)
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in `[0, 1)`.
pub fn unit(seed: u64, parts: &[&str]) -> f64 {
    (hash(seed, parts) >> 11) as f64 / (1u64 << 53) as f64
}

/// A uniform integer in `[low, high]`.
pub fn between(seed: u64, parts: &[&str], low: u32, high: u32) -> u32 {
    let (low, high) = (low.min(high), low.max(high));
    let span = u64::from(high - low) + 1;
    low + (hash(seed, parts) % span) as u32
}

/// A GUID-shaped id, as ADF uses for run ids.
pub fn guid(seed: u64, parts: &[&str]) -> String {
    let a = hash(seed, parts);
    let b = hash(seed ^ 0x5eed, parts);
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        (a >> 32) as u32,
        (a >> 16) as u16,
        (a & 0x0fff) as u16,
        ((b >> 48) as u16 & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_outputs() {
        assert_eq!(hash(7, &["a", "b"]), hash(7, &["a", "b"]));
        assert_ne!(hash(7, &["a", "b"]), hash(8, &["a", "b"]));
        assert_ne!(hash(7, &["ab", "c"]), hash(7, &["a", "bc"]));
    }

    #[test]
    fn guid_has_the_usual_shape() {
        let id = guid(1, &["run"]);
        let groups: Vec<_> = id.split('-').map(str::len).collect();
        assert_eq!(groups, vec![8, 4, 4, 4, 12]);
        assert_eq!(&id[14..15], "4");
    }

    #[test]
    fn between_stays_in_bounds() {
        for i in 0..1000 {
            let n = between(3, &[&i.to_string()], 5, 9);
            assert!((5..=9).contains(&n));
        }
    }
}
