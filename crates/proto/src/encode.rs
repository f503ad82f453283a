//! Writing messages, byte-identical to what the reference programs send.
//!
//! Owns the protoheader, the JSON header's key order and separators, and the
//! request shapes a client sends. Everything is appended to a caller-owned
//! `Vec<u8>`, so a caller that reuses its buffer encodes without
//! allocating. It does not own what a response says (see
//! [`crate::service`]) nor how one is read (see [`crate::reply`]).
//!
//! Clients build every request here and never assemble a header:
//!
//! | builder | content-type / encoding | content |
//! |---|---|---|
//! | [`client_request`] | either of the next two | what the reference client sends for `ACTION VALUE` |
//! | [`search_request`] | `text/json` / `utf-8` | `{"action": "search", "value": V}` |
//! | [`json_request`] | `text/json` / `utf-8` | `{"action": A, "value": V}` |
//! | [`binary_request`] | `binary/custom-client-binary-type` / `binary` | the bytes of `A + V` |
//! | [`message`] | any | given parts, back to back |
//! | [`json_message`] | `text/json` / `utf-8` | written by a closure |
//!
//! Every builder takes `keep_alive`: `true` adds `"keep-alive": true` to the
//! header (PROTOCOL.md, section 4); `false` writes exactly the reference
//! bytes.

use crate::header::{ByteOrder, CONTENT_TYPE_JSON};
use crate::json;
use crate::ProtoError;

/// Content type the reference client uses for its binary requests.
pub const CLIENT_BINARY_TYPE: &str = "binary/custom-client-binary-type";
/// Content encoding the reference programs name for binary content.
pub const BINARY_ENCODING: &str = "binary";
/// Content encoding of every JSON content sockmux writes.
pub const JSON_ENCODING: &str = "utf-8";

/// The one action the reference client sends as JSON (and the server
/// looks up).
pub const SEARCH_ACTION: &str = "search";

/// The largest JSON header the 2-byte protoheader can announce.
const MAX_HEADER: usize = u16::MAX as usize;

/// Appends a whole message: protoheader, JSON header, then the content,
/// given as `parts` written back to back (so callers need not join them).
///
/// Fails, leaving `out` as it was, if the JSON header would be longer than
/// 65,535 bytes (a very long `content_type`, say); it never truncates.
pub fn message(
    out: &mut Vec<u8>,
    content_type: &str,
    content_encoding: &str,
    parts: &[&[u8]],
    keep_alive: bool,
) -> Result<(), ProtoError> {
    let len = parts.iter().map(|p| p.len()).sum();
    header(out, content_type, content_encoding, len, keep_alive)?;
    for part in parts {
        out.extend_from_slice(part);
    }
    Ok(())
}

/// Appends a `text/json` message whose content `write_content` appends.
///
/// The content is written first and the header rotated in front of it, so
/// no scratch buffer is needed to learn the content's length.
pub fn json_message(
    out: &mut Vec<u8>,
    keep_alive: bool,
    write_content: impl FnOnce(&mut Vec<u8>),
) -> Result<(), ProtoError> {
    let start = out.len();
    write_content(out);
    let content_len = out.len() - start;
    if let Err(e) = header(
        out,
        CONTENT_TYPE_JSON,
        JSON_ENCODING,
        content_len,
        keep_alive,
    ) {
        out.truncate(start);
        return Err(e);
    }
    let header_len = out.len() - start - content_len;
    out[start..].rotate_right(header_len);
    Ok(())
}

/// Appends the request the reference client sends for `ACTION VALUE`: a
/// [`search_request`] for `search`, a [`binary_request`] for any other
/// action.
///
/// ```
/// use sockmux_proto::encode;
///
/// let mut wire = Vec::new();
/// encode::client_request("search", "morpheus", false, &mut wire)?;
/// assert!(wire.ends_with(br#"{"action": "search", "value": "morpheus"}"#));
///
/// wire.clear();
/// encode::client_request("echo", "hi", false, &mut wire)?;
/// assert!(wire.ends_with(br#""content-length": 6}echohi"#));
/// # Ok::<(), sockmux_proto::ProtoError>(())
/// ```
pub fn client_request(
    action: &str,
    value: &str,
    keep_alive: bool,
    out: &mut Vec<u8>,
) -> Result<(), ProtoError> {
    if action == SEARCH_ACTION {
        search_request(value, keep_alive, out)
    } else {
        binary_request(action, value, keep_alive, out)
    }
}

/// Appends the request the reference client sends for `search VALUE`:
/// `{"action": "search", "value": VALUE}` as `text/json`.
pub fn search_request(value: &str, keep_alive: bool, out: &mut Vec<u8>) -> Result<(), ProtoError> {
    json_request(SEARCH_ACTION, value, keep_alive, out)
}

/// Appends `{"action": ACTION, "value": VALUE}` as `text/json`, the shape of
/// a search request with any action (the reference client sends other
/// actions as binary; see [`binary_request`]).
pub fn json_request(
    action: &str,
    value: &str,
    keep_alive: bool,
    out: &mut Vec<u8>,
) -> Result<(), ProtoError> {
    json_message(out, keep_alive, |out| {
        out.extend_from_slice(b"{");
        json::write_key(out, "action");
        json::write_str(out, action);
        out.extend_from_slice(b", ");
        json::write_key(out, "value");
        json::write_str(out, value);
        out.extend_from_slice(b"}");
    })
}

/// Appends the request the reference client sends for any action other than
/// `search`: the UTF-8 bytes of `action + value` as
/// `binary/custom-client-binary-type`.
pub fn binary_request(
    action: &str,
    value: &str,
    keep_alive: bool,
    out: &mut Vec<u8>,
) -> Result<(), ProtoError> {
    message(
        out,
        CLIENT_BINARY_TYPE,
        BINARY_ENCODING,
        &[action.as_bytes(), value.as_bytes()],
        keep_alive,
    )
}

/// Appends the protoheader and JSON header for a message of `content_len`
/// bytes, keys in the reference order, `keep-alive` last and only when set.
pub(crate) fn header(
    out: &mut Vec<u8>,
    content_type: &str,
    content_encoding: &str,
    content_len: usize,
    keep_alive: bool,
) -> Result<(), ProtoError> {
    // The constant parts are written as whole slices: this runs once per
    // response, and the keys never need escaping.
    const PREFIX: &[u8] = match ByteOrder::native() {
        ByteOrder::Little => b"\0\0{\"byteorder\": \"little\", \"content-type\": ",
        ByteOrder::Big => b"\0\0{\"byteorder\": \"big\", \"content-type\": ",
    };
    // Every JSON response has this header but for its length.
    const JSON_PREFIX: &[u8] = match ByteOrder::native() {
        ByteOrder::Little => b"\0\0{\"byteorder\": \"little\", \"content-type\": \"text/json\", \"content-encoding\": \"utf-8\", \"content-length\": ",
        ByteOrder::Big => b"\0\0{\"byteorder\": \"big\", \"content-type\": \"text/json\", \"content-encoding\": \"utf-8\", \"content-length\": ",
    };
    let start = out.len();
    if content_type == CONTENT_TYPE_JSON && content_encoding == JSON_ENCODING {
        out.extend_from_slice(JSON_PREFIX);
    } else {
        out.extend_from_slice(PREFIX);
        json::write_str(out, content_type);
        out.extend_from_slice(b", \"content-encoding\": ");
        json::write_str(out, content_encoding);
        out.extend_from_slice(b", \"content-length\": ");
    }
    json::write_u64(out, content_len as u64);
    if keep_alive {
        out.extend_from_slice(b", \"keep-alive\": true");
    }
    out.push(b'}');
    let len = out.len() - start - 2;
    match u16::try_from(len) {
        Ok(n) => {
            out[start..start + 2].copy_from_slice(&n.to_be_bytes());
            Ok(())
        }
        Err(_) => {
            out.truncate(start);
            Err(ProtoError::HeaderTooLong {
                len,
                limit: MAX_HEADER,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_reference_search_request() {
        let mut out = Vec::new();
        search_request("morpheus", false, &mut out).expect("encodes");
        let expected: &[u8] = b"\x00g{\"byteorder\": \"little\", \"content-type\": \"text/json\", \"content-encoding\": \"utf-8\", \"content-length\": 41}{\"action\": \"search\", \"value\": \"morpheus\"}";
        assert_eq!(out, expected);
    }

    #[test]
    fn puts_keep_alive_last() {
        let mut out = Vec::new();
        message(&mut out, "a", "b", &[b"x", b"y"], true).expect("encodes");
        assert!(out.ends_with(b"\"content-length\": 2, \"keep-alive\": true}xy"));
    }

    #[test]
    fn refuses_a_header_over_65535_bytes_and_leaves_out_untouched() {
        let mut out = b"kept".to_vec();
        let long_type = "t".repeat(70_000);
        let err = message(&mut out, &long_type, "binary", &[b"x"], false).expect_err("too long");
        assert!(matches!(
            err,
            ProtoError::HeaderTooLong { limit: 65_535, .. }
        ));
        assert_eq!(out, b"kept");
    }
}
