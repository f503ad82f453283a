//! The JSON header: its required keys, the optional `keep-alive` key, and the
//! rules for each value. Unknown keys are ignored.
//!
//! Owns validation of one header's bytes into a [`Header`]. It does not own
//! framing (see [`crate::decode`]) or emission (see [`crate::encode`]).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::{fast, Limits, ProtoError};

/// The content type whose content is JSON text; every other type is binary.
pub const CONTENT_TYPE_JSON: &str = "text/json";

/// The sender's native byte order, as the reference programs report it.
/// Informational only: nothing in the format depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// `"little"`.
    Little,
    /// `"big"`.
    Big,
}

impl ByteOrder {
    /// The byte order of the machine this code runs on, which is what the
    /// reference programs send (`sys.byteorder`).
    pub const fn native() -> Self {
        if cfg!(target_endian = "big") {
            Self::Big
        } else {
            Self::Little
        }
    }

    /// The wire spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Little => "little",
            Self::Big => "big",
        }
    }
}

/// A validated JSON header.
///
/// The decoder keeps one and overwrites it for each message, so its strings
/// keep their capacity and steady-state decoding does not allocate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `byteorder`.
    pub byteorder: ByteOrder,
    /// `content-type`.
    pub content_type: String,
    /// `content-encoding`.
    pub content_encoding: String,
    /// `content-length`, already checked against [`Limits::max_content`].
    pub content_length: usize,
    /// `keep-alive` (sockmux extension); `false` when absent.
    pub keep_alive: bool,
}

impl Default for Header {
    fn default() -> Self {
        Self {
            byteorder: ByteOrder::native(),
            content_type: String::new(),
            content_encoding: String::new(),
            content_length: 0,
            keep_alive: false,
        }
    }
}

/// The keys we read, each kept as unparsed JSON so that every type error
/// gets its own message. A key whose value is `null` is present (as it is
/// to the reference programs), so it gets a type error, not "missing".
#[derive(Deserialize)]
struct RawHeader<'a> {
    #[serde(default, borrow, deserialize_with = "present")]
    byteorder: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present", rename = "content-type")]
    content_type: Option<&'a RawValue>,
    #[serde(
        default,
        borrow,
        deserialize_with = "present",
        rename = "content-encoding"
    )]
    content_encoding: Option<&'a RawValue>,
    #[serde(
        default,
        borrow,
        deserialize_with = "present",
        rename = "content-length"
    )]
    content_length: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "present", rename = "keep-alive")]
    keep_alive: Option<&'a RawValue>,
}

/// Reads a key's value, `null` included, as `Some`. Plain `Option` would
/// turn `null` into `None`, indistinguishable from an absent key.
pub(crate) fn present<'de, D>(deserializer: D) -> Result<Option<&'de RawValue>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    <&'de RawValue>::deserialize(deserializer).map(Some)
}

impl Header {
    /// Whether the content is JSON text (`content-type` is `text/json`).
    pub fn is_json(&self) -> bool {
        self.content_type == CONTENT_TYPE_JSON
    }

    /// Parses and validates `bytes`, a whole JSON header, into `self`.
    ///
    /// On error `self` is left in an unspecified but valid state.
    pub fn parse_into(&mut self, bytes: &[u8], limits: &Limits) -> Result<(), ProtoError> {
        if let Some(canonical) = fast::header(bytes) {
            self.byteorder = canonical.byteorder;
            self.content_length = checked_length(canonical.content_length, limits)?;
            set(&mut self.content_type, canonical.content_type);
            set(&mut self.content_encoding, canonical.content_encoding);
            self.keep_alive = canonical.keep_alive;
            return self.check_encoding();
        }
        self.parse_general(bytes, limits)
    }

    /// The general path: any JSON object, every error told apart.
    fn parse_general(&mut self, bytes: &[u8], limits: &Limits) -> Result<(), ProtoError> {
        if bytes.is_empty() {
            return Err(ProtoError::EmptyHeader);
        }
        let text = std::str::from_utf8(bytes).map_err(|_| ProtoError::HeaderNotUtf8)?;
        let raw: RawHeader<'_> = parse_object(text).map_err(|e| match e {
            ObjectError::NotObject => ProtoError::HeaderNotObject,
            ObjectError::Json(detail) => ProtoError::HeaderNotJson { detail },
        })?;

        // Checked in the order the reference programs check them.
        let byteorder = required(raw.byteorder, "byteorder")?;
        let content_length = required(raw.content_length, "content-length")?;
        let content_type = required(raw.content_type, "content-type")?;
        let content_encoding = required(raw.content_encoding, "content-encoding")?;

        self.byteorder = match serde_json::from_str::<&str>(byteorder.get()) {
            Ok("little") => ByteOrder::Little,
            Ok("big") => ByteOrder::Big,
            _ => {
                return Err(ProtoError::HeaderKeyType {
                    key: "byteorder",
                    expected: "\"little\" or \"big\"",
                })
            }
        };
        self.content_length = content_length_value(content_length, limits)?;
        string_into(content_type, "content-type", &mut self.content_type)?;
        string_into(
            content_encoding,
            "content-encoding",
            &mut self.content_encoding,
        )?;
        self.keep_alive = match raw.keep_alive.map(RawValue::get) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                return Err(ProtoError::HeaderKeyType {
                    key: "keep-alive",
                    expected: "true or false",
                })
            }
        };
        self.check_encoding()
    }

    /// JSON content must be in an encoding we decode.
    fn check_encoding(&self) -> Result<(), ProtoError> {
        if self.is_json() && !is_utf8_label(&self.content_encoding) {
            return Err(ProtoError::UnsupportedEncoding {
                encoding: self.content_encoding.clone(),
            });
        }
        Ok(())
    }
}

/// Replaces `dest`'s text, reusing its capacity.
fn set(dest: &mut String, text: &str) {
    dest.clear();
    dest.push_str(text);
}

/// Why a JSON text did not yield the object we wanted.
pub(crate) enum ObjectError {
    /// Valid JSON of another kind (array, string, number …).
    NotObject,
    /// Not JSON, or an object whose keys break the expected shape; the
    /// parser's own words.
    Json(String),
}

/// Parses `text` as a JSON object into `T`, telling "not JSON" apart from
/// "JSON but not an object". serde would also accept an array for a struct;
/// the protocol does not.
pub(crate) fn parse_object<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, ObjectError> {
    match serde_json::from_str::<T>(text) {
        Ok(value) if text.trim_start().starts_with('{') => Ok(value),
        Ok(_) => Err(ObjectError::NotObject),
        Err(e) if e.is_data() => match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            // Valid JSON that did not fit: a non-object, or an object whose
            // shape broke serde's rules (a duplicate key).
            Ok(_) if !text.trim_start().starts_with('{') => Err(ObjectError::NotObject),
            _ => Err(ObjectError::Json(detail(&e))),
        },
        Err(e) => Err(ObjectError::Json(detail(&e))),
    }
}

/// Longest parser detail quoted back to a peer. serde's words can quote
/// the peer's own bytes, escaped (up to six characters a byte), and an
/// error answer must stay small whatever the peer sent.
const MAX_DETAIL: usize = 120;

/// The parser's words about `e`, cut to [`MAX_DETAIL`] bytes.
fn detail(e: &serde_json::Error) -> String {
    let mut text = e.to_string();
    if text.len() > MAX_DETAIL {
        let cut = (0..=MAX_DETAIL)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push_str("...");
    }
    text
}

fn required<'a>(
    value: Option<&'a RawValue>,
    key: &'static str,
) -> Result<&'a RawValue, ProtoError> {
    value.ok_or(ProtoError::MissingHeaderKey { key })
}

/// Decodes a JSON string value into `dest`, reusing its capacity.
fn string_into(raw: &RawValue, key: &'static str, dest: &mut String) -> Result<(), ProtoError> {
    let text = json_string(raw).ok_or(ProtoError::HeaderKeyType {
        key,
        expected: "a string",
    })?;
    set(dest, &text);
    Ok(())
}

/// A JSON value's string, borrowed when it has no escapes; `None` when the
/// value is not a string.
pub(crate) fn json_string(raw: &RawValue) -> Option<Cow<'_, str>> {
    if let Ok(s) = serde_json::from_str::<&str>(raw.get()) {
        return Some(Cow::Borrowed(s));
    }
    // A string with escapes cannot be borrowed from the input.
    serde_json::from_str::<String>(raw.get())
        .ok()
        .map(Cow::Owned)
}

fn content_length_value(raw: &RawValue, limits: &Limits) -> Result<usize, ProtoError> {
    let text = raw.get();
    let is_number = text.starts_with(|c: char| c == '-' || c.is_ascii_digit());
    if !is_number {
        return Err(ProtoError::HeaderKeyType {
            key: "content-length",
            expected: "a non-negative integer",
        });
    }
    if text.starts_with('-') {
        return Err(ProtoError::NegativeContentLength);
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ProtoError::ContentLengthNotInteger);
    }
    // All digits: the only way to fail is to overflow, which is above any limit.
    checked_length(text.parse::<u64>().unwrap_or(u64::MAX), limits)
}

/// `len` as a buffer size, if the limit allows it.
fn checked_length(len: u64, limits: &Limits) -> Result<usize, ProtoError> {
    match usize::try_from(len) {
        Ok(n) if n <= limits.max_content => Ok(n),
        _ => Err(ProtoError::ContentTooLong {
            len,
            limit: limits.max_content,
        }),
    }
}

/// Whether `label` names UTF-8 in one of the spellings Python's codec
/// registry accepts for it.
fn is_utf8_label(label: &str) -> bool {
    label == "utf-8"
        || ["utf-8", "utf8", "utf_8"]
            .iter()
            .any(|known| label.eq_ignore_ascii_case(known))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Header, ProtoError> {
        let mut header = Header::default();
        header
            .parse_into(text.as_bytes(), &Limits::default())
            .map(|()| header)
    }

    const GOOD: &str = r#"{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8", "content-length": 41}"#;

    #[test]
    fn parses_the_reference_request_header() {
        let header = parse(GOOD).expect("valid header");
        assert_eq!(header.byteorder, ByteOrder::Little);
        assert_eq!(header.content_type, "text/json");
        assert_eq!(header.content_encoding, "utf-8");
        assert_eq!(header.content_length, 41);
        assert!(!header.keep_alive);
    }

    #[test]
    fn ignores_unknown_keys_and_reads_keep_alive() {
        let text = r#"{"x-trace": [1, {"a": null}], "keep-alive": true, "byteorder": "big", "content-type": "binary/x", "content-encoding": "binary", "content-length": 0}"#;
        let header = parse(text).expect("valid header");
        assert!(header.keep_alive);
        assert_eq!(header.byteorder, ByteOrder::Big);
        assert!(!header.is_json());
    }

    #[test]
    fn decodes_escaped_strings() {
        let text = r#"{"byteorder": "little", "content-type": "bin\u0061ry/\"x\"", "content-encoding": "binary", "content-length": 1}"#;
        assert_eq!(parse(text).expect("valid").content_type, "binary/\"x\"");
    }

    #[test]
    fn reports_the_first_missing_key_in_reference_order() {
        assert_eq!(
            parse("{}"),
            Err(ProtoError::MissingHeaderKey { key: "byteorder" })
        );
        let no_length =
            r#"{"byteorder": "little", "content-type": "text/json", "content-encoding": "utf-8"}"#;
        assert_eq!(
            parse(no_length),
            Err(ProtoError::MissingHeaderKey {
                key: "content-length"
            })
        );
    }

    proptest::proptest! {
        /// Wherever the fast path answers, the general path gives the same
        /// header (or the same error).
        #[test]
        fn fast_and_general_paths_agree(
            big in proptest::bool::ANY,
            content_type in "[ -~\u{80}-\u{10ffff}]{0,12}",
            content_encoding in "(utf-8|UTF8|binary|[a-z]{0,6})",
            length in proptest::num::u64::ANY,
            small in 0u64..100,
            use_small in proptest::bool::ANY,
            keep_alive in proptest::option::of(proptest::bool::ANY),
        ) {
            let length = if use_small { small } else { length };
            let mut text = Vec::new();
            text.extend_from_slice(b"{\"byteorder\": ");
            crate::json::write_str(&mut text, if big { "big" } else { "little" });
            text.extend_from_slice(b", \"content-type\": ");
            crate::json::write_str(&mut text, &content_type);
            text.extend_from_slice(b", \"content-encoding\": ");
            crate::json::write_str(&mut text, &content_encoding);
            text.extend_from_slice(format!(", \"content-length\": {length}").as_bytes());
            if let Some(k) = keep_alive {
                text.extend_from_slice(format!(", \"keep-alive\": {k}").as_bytes());
            }
            text.push(b'}');
            let limits = Limits { max_header: 65_535, max_content: 1000 };
            let mut fast = Header::default();
            let mut general = Header::default();
            let fast_result = fast.parse_into(&text, &limits);
            let general_result = general.parse_general(&text, &limits);
            proptest::prop_assert_eq!(&fast_result, &general_result);
            if fast_result.is_ok() {
                proptest::prop_assert_eq!(fast, general);
            }
        }
    }

    #[test]
    fn accepts_utf8_spellings_case_insensitively() {
        let text = GOOD.replace("utf-8", "UTF8");
        assert!(parse(&text).is_ok());
    }
}
