//! The bytes an echo connection sends, and the check of what comes back.
//!
//! Owns one idea: a connection's outgoing stream is a pure function of its
//! position, so the echo client and the load generator generate the bytes
//! to send straight into their write buffers and verify each echoed byte
//! against the same function, without keeping a copy of anything sent.

use std::sync::Arc;

/// A connection's outgoing byte stream.
#[derive(Debug, Clone)]
pub(crate) enum Stream {
    /// Fixed bytes (the messages, back to back), the same for every
    /// connection.
    Bytes(Arc<[u8]>),
    /// Deterministic pseudo-random bytes: byte `i` depends only on the
    /// seed and `i`, so connections with different seeds differ.
    Pattern {
        /// Seed of this connection's stream.
        seed: u64,
    },
}

impl Stream {
    /// Appends the `len` bytes at stream position `offset` to `out`.
    ///
    /// For [`Stream::Bytes`], `offset + len` must be within the bytes.
    pub(crate) fn append(&self, offset: u64, len: usize, out: &mut Vec<u8>) {
        match self {
            Self::Bytes(bytes) => {
                let start = offset as usize;
                out.extend_from_slice(&bytes[start..start + len]);
            }
            Self::Pattern { seed } => {
                out.reserve(len);
                for_each_block(*seed, offset, len, |_, word, range| {
                    // A whole block is one fixed-size store, not a copy.
                    if range.len() == word.len() {
                        out.extend_from_slice(&word);
                    } else {
                        out.extend_from_slice(&word[range]);
                    }
                    true
                });
            }
        }
    }

    /// Checks `got` against the stream at position `offset`; the index in
    /// `got` of the first wrong byte, if any.
    pub(crate) fn check(&self, offset: u64, got: &[u8]) -> Option<usize> {
        match self {
            Self::Bytes(bytes) => {
                let start = (offset as usize).min(bytes.len());
                let expected = &bytes[start..(start + got.len()).min(bytes.len())];
                first_difference(expected, got)
                    .or((expected.len() < got.len()).then_some(expected.len()))
            }
            Self::Pattern { seed } => {
                let mut wrong = None;
                for_each_block(*seed, offset, got.len(), |at, word, range| {
                    let got = &got[at..at + range.len()];
                    // A whole block compares as one word: this runs for
                    // every echoed byte the load generator checks.
                    if let Ok(whole) = <[u8; 8]>::try_from(got) {
                        if whole == word {
                            return true;
                        }
                    }
                    match first_difference(&word[range], got) {
                        Some(i) => {
                            wrong = Some(at + i);
                            false
                        }
                        None => true,
                    }
                });
                wrong
            }
        }
    }

    /// The byte at `offset` (for error messages).
    pub(crate) fn byte_at(&self, offset: u64) -> Option<u8> {
        match self {
            Self::Bytes(bytes) => usize::try_from(offset)
                .ok()
                .and_then(|i| bytes.get(i).copied()),
            Self::Pattern { seed } => {
                let word = block(*seed, offset / 8).to_le_bytes();
                Some(word[(offset % 8) as usize])
            }
        }
    }
}

fn first_difference(expected: &[u8], got: &[u8]) -> Option<usize> {
    if expected == got {
        return None;
    }
    expected.iter().zip(got).position(|(e, g)| e != g)
}

/// Calls `f(position in the range, block, its bytes in the range)` for the
/// pattern's 8-byte blocks that cover `offset..offset + len`, in order,
/// until `f` returns false.
fn for_each_block(
    seed: u64,
    offset: u64,
    len: usize,
    mut f: impl FnMut(usize, [u8; 8], std::ops::Range<usize>) -> bool,
) {
    let mut done = 0usize;
    while done < len {
        let pos = offset + done as u64;
        let word = block(seed, pos / 8).to_le_bytes();
        let skip = (pos % 8) as usize;
        let take = (8 - skip).min(len - done);
        if !f(done, word, skip..skip + take) {
            return;
        }
        done += take;
    }
}

/// SplitMix64 of the block index mixed with the seed: cheap, and without
/// the short cycles that would let a misplaced block go unnoticed.
fn block(seed: u64, index: u64) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(index.wrapping_add(1).wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_is_a_function_of_position_only() {
        let stream = Stream::Pattern { seed: 7 };
        let mut whole = Vec::new();
        stream.append(0, 100, &mut whole);
        let mut pieces = Vec::new();
        for (offset, len) in [(0, 3), (3, 13), (16, 1), (17, 83)] {
            stream.append(offset, len, &mut pieces);
        }
        assert_eq!(whole, pieces);
        assert_eq!(stream.check(5, &whole[5..60]), None);
        assert_eq!(stream.byte_at(42), Some(whole[42]));
    }

    #[test]
    fn check_finds_the_first_wrong_byte() {
        let stream = Stream::Pattern { seed: 1 };
        let mut bytes = Vec::new();
        stream.append(10, 50, &mut bytes);
        bytes[33] ^= 0x01;
        assert_eq!(stream.check(10, &bytes), Some(33));

        let fixed = Stream::Bytes(Arc::from(&b"hello"[..]));
        assert_eq!(fixed.check(1, b"ell"), None);
        assert_eq!(fixed.check(1, b"elx"), Some(2));
        assert_eq!(fixed.check(3, b"lo!"), Some(2), "past the end is wrong");
    }

    #[test]
    fn seeds_give_different_streams() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        Stream::Pattern { seed: 1 }.append(0, 32, &mut a);
        Stream::Pattern { seed: 2 }.append(0, 32, &mut b);
        assert_ne!(a, b);
    }
}
