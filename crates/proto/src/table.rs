//! The search table: keys to answers, each answer escaped once, at load
//! time, the way a response carries it, so that answering is a lookup and
//! a copy.
//!
//! Owns how a table is held and found in. A table of a million entries is
//! two allocations: an arena with every key and escaped answer back to back
//! ([`arena`]), and an index of 32-bit arena offsets (a SwissTable from
//! `hashbrown`, whose one-byte tags per slot mean a lookup reads the arena
//! about once for a hit and almost never for a miss) keyed by `foldhash`, a
//! fast hash seeded per table. The file's text is never held whole: the
//! [`TableBuilder`] writes each entry into the arena as it is read. What a
//! request means is [`crate::service`]'s; reading a file from disk, with
//! its checks, is the caller's.

mod arena;
mod parse;

use std::fmt;
use std::hash::{BuildHasher, Hasher};

use foldhash::fast::RandomState;
use hashbrown::hash_table::{Entry as Slot, HashTable};
use thiserror::Error;

pub use parse::TableBuilder;

/// The search table: keys to answers.
#[derive(Clone)]
pub struct Table {
    /// Every entry; see [`arena`].
    arena: Box<[u8]>,
    /// The arena offset of each key's last entry.
    index: HashTable<u32>,
    hasher: RandomState,
    /// Bytes in the longest key: no longer name can match.
    longest_key: usize,
}

/// A table file that is not a JSON object of strings to strings, or could
/// not be read.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TableError {
    /// The text is not a JSON object of strings to strings (or holds a
    /// string a Rust `str` cannot: invalid UTF-8, a lone surrogate).
    #[error("not a JSON object of strings to strings: {what} at line {line} column {column}")]
    Json {
        /// What is wrong.
        what: &'static str,
        /// Line of the fault, from 1.
        line: u64,
        /// Byte of the fault in its line, from 1.
        column: u64,
    },
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// Keys and answers take more than the index can address (4 GiB).
    #[error("keys and answers take more than 4 GiB")]
    TooLarge,
}

impl Table {
    /// The three entries the reference server answers from.
    pub fn builtin() -> Self {
        Self::from_entries([
            ("morpheus", "Follow the white rabbit. \u{1f430}"),
            (
                "ring",
                "In the caves beneath the Misty Mountains. \u{1f48d}",
            ),
            ("\u{1f436}", "\u{1f43e} Playing ball! \u{1f3d0}"),
        ])
    }

    /// A table of the given entries; a key given twice keeps its last
    /// answer.
    ///
    /// # Panics
    ///
    /// If the keys and answers take more than 4 GiB.
    pub fn from_entries<K: Into<String>, V: Into<String>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let mut builder = TableBuilder::new();
        for (key, text) in entries {
            builder.push_text(&key.into(), &text.into());
        }
        builder
            .into_table()
            .expect("a table of at most 4 GiB of keys and answers")
    }

    /// Parses a JSON object of string keys to string values (a duplicate
    /// key keeps its last value, as with Python's `json.load`).
    pub fn from_json(text: &str) -> Result<Self, TableError> {
        let mut builder = TableBuilder::with_capacity(text.len());
        builder.feed(text.as_bytes())?;
        builder.finish()
    }

    /// The answer for `key`. As in the reference server, an empty answer
    /// counts as no answer.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entry(key.as_bytes())
            .map(|e| utf8(e.text))
            .filter(|text| !text.is_empty())
    }

    /// The answer for `key` escaped for a JSON string, as a response
    /// carries it between `{"result": "` and `"}`; `None` for no answer
    /// (an empty one included). No allocation: this is every hit's path.
    pub(crate) fn answer_body(&self, key: &str) -> Option<&[u8]> {
        let (_, body) = arena::key_and_body(&self.arena, self.find(key.as_bytes())?);
        (!body.is_empty()).then_some(body)
    }

    /// The entries, each key once with its last answer (empty answers
    /// included), in the order of the file or of `from_entries` (a key
    /// given twice where it was given last).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut at = 0;
        std::iter::from_fn(move || loop {
            if at >= self.arena.len() {
                return None;
            }
            let e = arena::entry(&self.arena, at);
            at = e.next;
            if !e.superseded {
                return Some((utf8(e.key), utf8(e.text)));
            }
        })
    }

    /// Bytes in the longest key.
    pub fn longest_key(&self) -> usize {
        self.longest_key
    }

    /// Number of entries (distinct keys).
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Bytes the table holds on the heap: the arena and the index.
    pub fn heap_bytes(&self) -> usize {
        self.arena.len() + self.index.allocation_size()
    }

    /// Indexes the `entries` entries (duplicates included) in `arena`.
    fn from_arena(
        mut arena: Vec<u8>,
        entries: usize,
        longest_key: usize,
    ) -> Result<Self, TableError> {
        if u32::try_from(arena.len()).is_err() {
            return Err(TableError::TooLarge);
        }
        // In place: a large allocation shrinks without a copy.
        arena.shrink_to_fit();
        let hasher = RandomState::default();
        let hash = |key: &[u8]| {
            let mut h = hasher.build_hasher();
            h.write(key);
            h.finish()
        };
        // Room for every entry up front: the index never grows, so it is
        // never rehashed and never held twice.
        let mut index = HashTable::<u32>::with_capacity(entries);
        let mut at = 0;
        while at < arena.len() {
            let e = arena::entry(&arena, at);
            let (key, next) = (e.key, e.next);
            let slot = index.entry(
                hash(key),
                |&other| arena::key_and_body(&arena, other as usize).0 == key,
                |&other| hash(arena::key_and_body(&arena, other as usize).0),
            );
            // The length check above makes every offset fit.
            let offset = at as u32;
            match slot {
                Slot::Occupied(mut slot) => {
                    let earlier = std::mem::replace(slot.get_mut(), offset);
                    arena::supersede(&mut arena, earlier as usize);
                }
                Slot::Vacant(slot) => {
                    slot.insert(offset);
                }
            }
            at = next;
        }
        Ok(Self {
            arena: arena.into_boxed_slice(),
            index,
            hasher,
            longest_key,
        })
    }

    fn hash(&self, key: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write(key);
        h.finish()
    }

    /// The entry for `key`, empty answer or not.
    fn entry(&self, key: &[u8]) -> Option<arena::Entry<'_>> {
        Some(arena::entry(&self.arena, self.find(key)?))
    }

    /// Where the entry for `key` starts in the arena.
    #[inline]
    fn find(&self, key: &[u8]) -> Option<usize> {
        self.index
            .find(self.hash(key), |&at| {
                arena::key_and_body(&self.arena, at as usize).0 == key
            })
            .map(|&at| at as usize)
    }
}

/// Text the arena holds: it was UTF-8 when written.
fn utf8(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("the arena holds UTF-8 keys and answers")
}

impl fmt::Debug for Table {
    /// The size, not the million entries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("len", &self.len())
            .field("longest_key", &self.longest_key)
            .field("heap_bytes", &self.heap_bytes())
            .finish()
    }
}

/// Tables are equal when they hold the same keys with the same answers,
/// however they were built.
impl PartialEq for Table {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self.iter().all(|(key, text)| {
                other
                    .entry(key.as_bytes())
                    .is_some_and(|e| e.text == text.as_bytes())
            })
    }
}

impl Eq for Table {}

#[cfg(test)]
mod tests;
