//! Limits on what a peer may make a decoder accept. Owns the numbers and
//! their defaults; the decoder enforces them.

/// Bounds a decoder enforces before it lets a peer make its caller buffer
/// anything.
///
/// Every length read from the wire is checked against these limits as soon
/// as it is known, before any byte it announces is buffered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest JSON header accepted, in bytes. Default: 65,535, the most the
    /// 2-byte protoheader can announce. A header announcing more is rejected
    /// as soon as the protoheader is read.
    pub max_header: usize,
    /// Largest `content-length` accepted, in bytes. Default: 16 MiB. A larger
    /// value is rejected as soon as the JSON header is parsed, before any
    /// content is buffered.
    pub max_content: usize,
}

impl Limits {
    /// Default for [`Limits::max_header`]: everything the wire can carry.
    pub const DEFAULT_MAX_HEADER: usize = u16::MAX as usize;
    /// Default for [`Limits::max_content`]: 16 MiB.
    pub const DEFAULT_MAX_CONTENT: usize = 16 * 1024 * 1024;

    /// The largest whole message, protoheader included, these limits admit.
    pub fn max_message(&self) -> usize {
        2usize
            .saturating_add(self.max_header)
            .saturating_add(self.max_content)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header: Self::DEFAULT_MAX_HEADER,
            max_content: Self::DEFAULT_MAX_CONTENT,
        }
    }
}
