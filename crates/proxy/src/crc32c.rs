//! CRC32C (Castagnoli), the checksum of the v2 `PP2_TYPE_CRC32C` TLV
//! (RFC 4960, appendix B). Table-driven, one byte at a time: headers are a
//! few hundred bytes at most, so a wider table would buy nothing. The
//! table is built at compile time.

/// The Castagnoli polynomial, bit-reversed (the CRC is computed LSB first).
const POLY: u32 = 0x82F6_3B78;

const TABLE: [u32; 256] = table();

const fn table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// A running CRC32C.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Crc32c(u32);

impl Crc32c {
    pub(crate) fn new() -> Self {
        Self(!0)
    }

    /// Adds `bytes` to the sum.
    pub(crate) fn update(mut self, bytes: &[u8]) -> Self {
        for &b in bytes {
            self.0 = TABLE[usize::from(self.0 as u8 ^ b)] ^ (self.0 >> 8);
        }
        self
    }

    pub(crate) fn finish(self) -> u32 {
        !self.0
    }
}

/// The CRC32C of `bytes`.
#[cfg(test)]
pub(crate) fn checksum(bytes: &[u8]) -> u32 {
    Crc32c::new().update(bytes).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_check_values() {
        // The "check" value of CRC-32C (iSCSI) in the CRC catalogue.
        assert_eq!(checksum(b"123456789"), 0xE306_9283);
        assert_eq!(checksum(b""), 0);
        // RFC 3720, appendix B.4: 32 bytes of zeros, and of 0xff.
        assert_eq!(checksum(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(checksum(&[0xffu8; 32]), 0x62A8_AB43);
        let ascending: Vec<u8> = (0..32).collect();
        assert_eq!(checksum(&ascending), 0x46DD_794E);
    }

    #[test]
    fn updating_in_pieces_equals_one_update() {
        let data: Vec<u8> = (0..=255).collect();
        for cut in [0, 1, 100, 255, 256] {
            let (a, b) = data.split_at(cut);
            assert_eq!(Crc32c::new().update(a).update(b).finish(), checksum(&data));
        }
    }
}
