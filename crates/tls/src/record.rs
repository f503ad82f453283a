//! Where the peer's bytes stand against TLS record boundaries, so that a
//! record held back half-way counts as a message under way for the idle
//! rules (rustls buffers partial records but does not say so).
//!
//! ```text
//! record: type u8 | version u16 | length u16 | length bytes of payload
//! ```
//!
//! Only the lengths are followed; what the records say, and whether they
//! are well formed, is rustls's to decide.

/// Bytes of a record header.
const HEADER: usize = 5;

/// The position of the byte stream within its records.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Records {
    /// Header bytes seen of the next record (0 to 4).
    header_seen: u8,
    /// The length field, as far as it has been seen.
    length: u16,
    /// Payload bytes of the current record not yet seen.
    remaining: usize,
}

impl Records {
    /// Follows `input`, the next bytes of the stream.
    pub(crate) fn track(&mut self, mut input: &[u8]) {
        while !input.is_empty() {
            if self.remaining > 0 {
                let take = self.remaining.min(input.len());
                self.remaining -= take;
                input = &input[take..];
                continue;
            }
            // Bytes 3 and 4 of the header are the payload length.
            match self.header_seen {
                3 => self.length = u16::from(input[0]) << 8,
                4 => self.length |= u16::from(input[0]),
                _ => {}
            }
            self.header_seen += 1;
            input = &input[1..];
            if usize::from(self.header_seen) == HEADER {
                self.header_seen = 0;
                self.remaining = usize::from(self.length);
            }
        }
    }

    /// Whether the stream stopped inside a record (its header or payload).
    pub(crate) fn is_mid_record(&self) -> bool {
        self.header_seen > 0 || self.remaining > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(len: u16) -> Vec<u8> {
        let mut wire = vec![23, 3, 3];
        wire.extend_from_slice(&len.to_be_bytes());
        wire.resize(HEADER + usize::from(len), 0xaa);
        wire
    }

    #[test]
    fn whole_records_leave_nothing_under_way() {
        let mut records = Records::default();
        let mut wire = record(300);
        wire.extend(record(0));
        wire.extend(record(17));
        records.track(&wire);
        assert!(!records.is_mid_record());
    }

    #[test]
    fn every_split_point_inside_a_record_is_mid_record() {
        let wire = [record(300), record(2)].concat();
        for cut in 1..wire.len() {
            let mut records = Records::default();
            records.track(&wire[..cut]);
            assert_eq!(records.is_mid_record(), cut != 305, "cut at {cut}");
            records.track(&wire[cut..]);
            assert!(!records.is_mid_record(), "rest after {cut}");
        }
    }

    #[test]
    fn a_byte_at_a_time_follows_the_same_boundaries() {
        let wire = [record(258), record(1)].concat();
        let mut records = Records::default();
        for (i, byte) in wire.iter().enumerate() {
            records.track(std::slice::from_ref(byte));
            assert_eq!(records.is_mid_record(), i + 1 != 263 && i + 1 != wire.len());
        }
    }
}
