//! The bytes of a [`Table`](super::Table): every entry back to back in one
//! allocation, so that a million entries cost one allocation rather than
//! three million, and no per-entry headers or pointers.
//!
//! ```text
//! entry := varint(key_len) varint(body_len << 2 | flags) key body [varint(text_len) text]
//! ```
//!
//! Varints are LEB128. `body` is the answer escaped as it goes between
//! `{"result": "` and `"}` in a response; the answer's own text follows
//! only when it differs from `body` (flag [`HAS_TEXT`]: the escaping
//! changed a character), so most answers are stored once. [`SUPERSEDED`]
//! marks an entry whose key comes again later: like `json.load`, a table
//! keeps the last value of a duplicate key.
//!
//! This module owns the layout only; which entry a key finds is the index's
//! business ([`super::Table`]).

/// The answer's text follows its body.
const HAS_TEXT: u8 = 1;
/// A later entry has the same key. It lives in the low bits of the second
/// varint's first byte, so setting it never changes the entry's length.
const SUPERSEDED: u8 = 2;

/// One entry, read from the arena.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry<'a> {
    /// The key, UTF-8.
    pub key: &'a [u8],
    /// The answer itself, UTF-8.
    pub text: &'a [u8],
    /// Whether a later entry has the same key.
    pub superseded: bool,
    /// Where the next entry starts.
    pub next: usize,
}

/// Appends an entry. `body` is `text` escaped; pass `text` only when the
/// two differ.
pub(super) fn push(arena: &mut Vec<u8>, key: &[u8], body: &[u8], text: Option<&[u8]>) {
    let flags = if text.is_some() { HAS_TEXT } else { 0 };
    put(arena, key.len() as u64);
    put(arena, (body.len() as u64) << 2 | u64::from(flags));
    arena.extend_from_slice(key);
    arena.extend_from_slice(body);
    if let Some(text) = text {
        put(arena, text.len() as u64);
        arena.extend_from_slice(text);
    }
}

/// The entry at `at`, which [`push`] wrote.
pub(super) fn entry(arena: &[u8], at: usize) -> Entry<'_> {
    let mut at = at;
    let key_len = get(arena, &mut at);
    let flags = arena[at];
    let body_len = get(arena, &mut at) >> 2;
    let key = &arena[at..at + key_len];
    at += key_len;
    let body = &arena[at..at + body_len];
    at += body_len;
    let text = if flags & HAS_TEXT == 0 {
        body
    } else {
        let text_len = get(arena, &mut at);
        let text = &arena[at..at + text_len];
        at += text_len;
        text
    };
    Entry {
        key,
        text,
        superseded: flags & SUPERSEDED != 0,
        next: at,
    }
}

/// Just the key and body of the entry at `at`: what a lookup reads.
#[inline]
pub(super) fn key_and_body(arena: &[u8], at: usize) -> (&[u8], &[u8]) {
    let mut at = at;
    let key_len = get(arena, &mut at);
    let body_len = get(arena, &mut at) >> 2;
    let key = &arena[at..at + key_len];
    (key, &arena[at + key_len..at + key_len + body_len])
}

/// Marks the entry at `at` as superseded by a later one with its key.
pub(super) fn supersede(arena: &mut [u8], at: usize) {
    let mut second = at;
    get(arena, &mut second);
    arena[second] |= SUPERSEDED;
}

/// Appends `n` as a LEB128 varint.
fn put(arena: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        // The low seven bits, with the "more follows" bit: no truncation.
        arena.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    arena.push(n as u8);
}

/// Reads the LEB128 varint at `*at` and moves past it.
#[inline]
fn get(arena: &[u8], at: &mut usize) -> usize {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = arena[*at];
        *at += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b < 0x80 {
            return n;
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_as_written_whatever_their_lengths() {
        let long = "x".repeat(70_000);
        let cases: [(&str, &str, Option<&str>); 4] = [
            ("", "", None),
            ("k", "plain answer", None),
            ("quoted", r#"say \"hi\""#, Some(r#"say "hi""#)),
            (&long, &long, None),
        ];
        let mut arena = Vec::new();
        let mut starts = Vec::new();
        for (key, body, text) in cases {
            starts.push(arena.len());
            push(
                &mut arena,
                key.as_bytes(),
                body.as_bytes(),
                text.map(str::as_bytes),
            );
        }
        for (i, (key, body, text)) in cases.into_iter().enumerate() {
            let e = entry(&arena, starts[i]);
            assert_eq!(e.key, key.as_bytes());
            assert_eq!(e.text, text.unwrap_or(body).as_bytes());
            assert!(!e.superseded);
            assert_eq!(e.next, starts.get(i + 1).copied().unwrap_or(arena.len()));
            assert_eq!(key_and_body(&arena, starts[i]), (e.key, body.as_bytes()));
        }
    }

    #[test]
    fn superseding_keeps_every_length() {
        let mut arena = Vec::new();
        push(&mut arena, b"k", &[b'v'; 200], Some(b"text"));
        let before = entry(&arena, 0);
        let (key, text, next) = (before.key.to_vec(), before.text.to_vec(), before.next);
        supersede(&mut arena, 0);
        let after = entry(&arena, 0);
        assert!(after.superseded);
        assert_eq!(
            (after.key, after.text, after.next),
            (&key[..], &text[..], next)
        );
        assert_eq!(key_and_body(&arena, 0).1, [b'v'; 200]);
    }
}
