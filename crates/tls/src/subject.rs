//! The subject of a certificate, for the log: a small DER walk to the
//! `subject` name of a certificate rustls has already verified, rendered
//! as `CN=alice, O=Example`. Owns nothing else of X.509: validation is
//! rustls's (and webpki's), and a certificate this walk cannot follow is
//! simply not named.
//!
//! ```text
//! Certificate  SEQUENCE { tbsCertificate SEQUENCE {
//!     [0] version OPTIONAL, serialNumber INTEGER, signature SEQUENCE,
//!     issuer Name, validity SEQUENCE, subject Name, ... }, ... }
//! Name         SEQUENCE OF SET OF SEQUENCE { type OID, value string }
//! ```

/// Longest subject rendered; longer ones are cut (a peer chooses it).
const MAX_RENDERED: usize = 256;

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;

/// The attributes worth naming, by the DER of their OID (2.5.4.x).
const NAMES: [(&[u8], &str); 6] = [
    (&[0x55, 0x04, 0x03], "CN"),
    (&[0x55, 0x04, 0x0b], "OU"),
    (&[0x55, 0x04, 0x0a], "O"),
    (&[0x55, 0x04, 0x07], "L"),
    (&[0x55, 0x04, 0x08], "ST"),
    (&[0x55, 0x04, 0x06], "C"),
];

/// The subject of the DER certificate `der`, or `None` when it cannot be
/// read or names none of CN, OU, O, L, ST and C.
pub(crate) fn subject(der: &[u8]) -> Option<String> {
    let (tag, cert, _) = tlv(der)?;
    expect(tag, SEQUENCE)?;
    let (tag, mut tbs, _) = tlv(cert)?;
    expect(tag, SEQUENCE)?;
    // Version (explicitly tagged [0]) is optional; skip it when present.
    if tbs.first() == Some(&0xa0) {
        tbs = tlv(tbs)?.2;
    }
    // serialNumber, signature, issuer, validity.
    for _ in 0..4 {
        tbs = tlv(tbs)?.2;
    }
    let (tag, name, _) = tlv(tbs)?;
    expect(tag, SEQUENCE)?;
    render(name)
}

/// `CN=..., O=...` for the attributes of an RDN sequence, in its order.
fn render(mut name: &[u8]) -> Option<String> {
    let mut out = String::new();
    while !name.is_empty() {
        let (tag, mut set, rest) = tlv(name)?;
        expect(tag, SET)?;
        name = rest;
        while !set.is_empty() {
            let (tag, pair, rest) = tlv(set)?;
            expect(tag, SEQUENCE)?;
            set = rest;
            let (tag, oid, value) = tlv(pair)?;
            expect(tag, OID)?;
            let Some((_, label)) = NAMES.iter().find(|(known, _)| *known == oid) else {
                continue;
            };
            let (_, value, _) = tlv(value)?;
            // UTF8String, PrintableString and IA5String are all UTF-8 here;
            // other string types are left out rather than guessed at.
            let Ok(text) = std::str::from_utf8(value) else {
                continue;
            };
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(label);
            out.push('=');
            // The peer wrote it: no control characters into the log.
            out.extend(text.chars().map(|c| if c.is_control() { '?' } else { c }));
        }
    }
    if out.len() > MAX_RENDERED {
        let mut cut = MAX_RENDERED;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    (!out.is_empty()).then_some(out)
}

fn expect(tag: u8, wanted: u8) -> Option<()> {
    (tag == wanted).then_some(())
}

/// One DER tag-length-value: the tag, the value and what follows it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, mut rest) = rest.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        // Long form: 1 to 3 length bytes is all a certificate needs.
        let count = usize::from(first & 0x7f);
        if !(1..=3).contains(&count) || rest.len() < count {
            return None;
        }
        let (bytes, after) = rest.split_at(count);
        rest = after;
        bytes.iter().fold(0, |len, &b| (len << 8) | usize::from(b))
    };
    if rest.len() < len {
        return None;
    }
    let (value, after) = rest.split_at(len);
    Some((tag, value, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn der(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if value.len() < 0x80 {
            out.push(value.len() as u8);
        } else {
            out.push(0x82);
            out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(value);
        out
    }

    fn attribute(oid: &[u8], tag: u8, text: &[u8]) -> Vec<u8> {
        der(
            SET,
            &der(SEQUENCE, &[der(OID, oid), der(tag, text)].concat()),
        )
    }

    /// A certificate shell around `subject`, with a long issuer to force
    /// the long length form.
    fn certificate(subject: &[u8], with_version: bool) -> Vec<u8> {
        let issuer = der(
            SEQUENCE,
            &attribute(&[0x55, 0x04, 0x03], 0x0c, &[b'i'; 200]),
        );
        let mut tbs = Vec::new();
        if with_version {
            tbs.extend(der(0xa0, &der(0x02, &[2])));
        }
        tbs.extend(der(0x02, &[1, 2, 3]));
        tbs.extend(der(SEQUENCE, &der(OID, &[0x2a, 0x86, 0x48])));
        tbs.extend(issuer);
        tbs.extend(der(SEQUENCE, &[]));
        tbs.extend(der(SEQUENCE, subject));
        tbs.extend(der(SEQUENCE, &[]));
        der(
            SEQUENCE,
            &[der(SEQUENCE, &tbs), der(SEQUENCE, &[])].concat(),
        )
    }

    #[test]
    fn names_the_known_attributes_in_order() {
        let name = [
            attribute(&[0x55, 0x04, 0x06], 0x13, b"NL"),
            attribute(&[0x55, 0x04, 0x0a], 0x0c, b"Example"),
            attribute(&[0x2a, 0x03], 0x0c, b"unknown"),
            attribute(&[0x55, 0x04, 0x03], 0x0c, "ålice".as_bytes()),
        ]
        .concat();
        for with_version in [true, false] {
            assert_eq!(
                subject(&certificate(&name, with_version)).as_deref(),
                Some("C=NL, O=Example, CN=ålice")
            );
        }
    }

    #[test]
    fn control_characters_and_long_names_are_tamed() {
        let name = attribute(
            &[0x55, 0x04, 0x03],
            0x0c,
            &[b"a\nb".as_slice(), &[b'x'; 400]].concat(),
        );
        let got = subject(&certificate(&name, true)).expect("named");
        assert!(got.starts_with("CN=a?bxx"), "{got}");
        assert!(got.chars().count() <= MAX_RENDERED + 1);
    }

    #[test]
    fn anything_unreadable_is_not_named() {
        let good = certificate(&attribute(&[0x55, 0x04, 0x03], 0x0c, b"bob"), true);
        assert!(subject(&good).is_some());
        for cut in 0..good.len() {
            assert_eq!(subject(&good[..cut]), None, "cut at {cut}");
        }
        assert_eq!(subject(&certificate(&[], true)), None, "empty subject");
        assert_eq!(subject(b"\x30\x84\xff\xff\xff\xff"), None, "huge length");
    }
}
