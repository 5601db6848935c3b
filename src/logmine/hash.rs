//! Small, deterministic hashing helpers.
//!
//! The standard library's `RandomState` is seeded per process, which is fine
//! for correctness but costs time on the hot path (SipHash) and makes
//! debugging non-reproducible. The miner only hashes its own token hashes and
//! cluster ids, so a fast multiplicative mixer is plenty.

use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a over bytes: stable across runs and platforms, used for token text.
pub(crate) const fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_extend(FNV_OFFSET, bytes)
}

pub(crate) const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Continues an FNV-1a hash, so a token can be hashed in pieces without
/// first concatenating them.
pub(crate) const fn fnv1a_extend(mut state: u64, bytes: &[u8]) -> u64 {
    // A `while` loop so the hash of a constant is a constant.
    let mut i = 0;
    while i < bytes.len() {
        state ^= bytes[i] as u64;
        state = state.wrapping_mul(FNV_PRIME);
        i += 1;
    }
    state
}

/// Hash of a short byte string, eight bytes per step: for cache keys, where
/// FNV's byte-at-a-time dependency chain would cost more than the lookup.
/// `seed` separates key spaces that share one table.
pub(crate) fn word_hash(bytes: &[u8], seed: u64) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(MIX);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        h = (h ^ word(chunk)).wrapping_mul(MIX).rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        h = (h ^ word(rest)).wrapping_mul(MIX).rotate_left(29);
    }
    h ^ (h >> 32)
}

/// Byte-string equality for the short strings of the hot path (tokens,
/// keys): eight bytes at a time, inline, where `==` on slices would call
/// `memcmp` — a function call that costs more than these compares.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut x = a.chunks_exact(8);
    let mut y = b.chunks_exact(8);
    for (p, q) in (&mut x).zip(&mut y) {
        if word(p) != word(q) {
            return false;
        }
    }
    word(x.remainder()) == word(y.remainder())
}

/// Up to eight bytes as one number, distinct for distinct strings of the
/// same length (callers compare or hash the length separately). Overlapping
/// loads rather than a byte loop or a variable-length copy.
#[inline]
fn word(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    if let Ok(eight) = <[u8; 8]>::try_from(bytes) {
        return u64::from_le_bytes(eight);
    }
    if n >= 4 {
        // Two 4-byte loads that together cover all `n` bytes.
        let lo = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let hi = u32::from_le_bytes([bytes[n - 4], bytes[n - 3], bytes[n - 2], bytes[n - 1]]);
        return u64::from(lo) | u64::from(hi) << 32;
    }
    if n == 0 {
        return 0;
    }
    // First, middle and last byte cover all of one to three bytes.
    u64::from(bytes[0]) | u64::from(bytes[n / 2]) << 8 | u64::from(bytes[n - 1]) << 16
}

/// Multiplicative mixer for `HashMap`s keyed by integers or token hashes.
#[derive(Default, Clone, Copy)]
pub(crate) struct MixHasher(u64);

const MIX: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for MixHasher {
    fn finish(&self) -> u64 {
        // Fold the high bits down: hashbrown uses both the low bits (bucket)
        // and the top 7 bits (tag) of the hash.
        self.0 ^ (self.0 >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(buf));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(MIX);
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

pub(crate) type MixBuild = BuildHasherDefault<MixHasher>;
pub(crate) type MixMap<K, V> = std::collections::HashMap<K, V, MixBuild>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv_is_stable_and_piecewise() {
        assert_eq!(fnv1a(b""), FNV_OFFSET);
        let whole = fnv1a(b"hello world");
        let parts = fnv1a_extend(fnv1a(b"hello "), b"world");
        assert_eq!(whole, parts);
    }

    #[test]
    fn same_bytes_is_slice_equality() {
        let cases: [(&[u8], &[u8]); 11] = [
            (b"", b""),
            (b"a", b"b"),
            (b"ab", b"ac"),
            (b"abc", b"abc"),
            (b"abc", b"abd"),
            (b"abc", b"axc"),
            (b"abcde", b"abxde"),
            (b"abcdefg", b"abcdefh"),
            (b"abc", b"abc\0"),
            (b"0123456789abcdef!", b"0123456789abcdef!"),
            (b"0123456789abcdef!", b"0123456789abcdef?"),
        ];
        for (a, b) in cases {
            assert_eq!(same_bytes(a, b), a == b, "{a:?} {b:?}");
        }
    }

    #[test]
    fn word_hash_sees_every_byte_length_and_seed() {
        let base = word_hash(b"connection refused", 0);
        assert_ne!(base, word_hash(b"connection refusee", 0));
        assert_ne!(base, word_hash(b"connection refused", 1));
        // Zero padding of the tail must not make lengths collide.
        assert_ne!(word_hash(b"ab", 0), word_hash(b"ab\0", 0));
        assert_ne!(word_hash(b"", 0), word_hash(b"\0", 0));
    }

    proptest::proptest! {
        /// Random strings over a two-letter alphabet, so equal and
        /// nearly-equal pairs are common.
        #[test]
        fn same_bytes_agrees_with_slice_equality(
            a in proptest::collection::vec(0u8..2, 0..20),
            b in proptest::collection::vec(0u8..2, 0..20),
        ) {
            proptest::prop_assert_eq!(same_bytes(&a, &b), a == b);
            proptest::prop_assert!(same_bytes(&a, &a));
        }
    }
}
