//! W3C Trace Context (`traceparent`) carried from a request into the events it causes, so a
//! consumer's logs and spans name the trace of the request that started the flow.

use std::fmt;

use p256::elliptic_curve::rand_core::{OsRng, RngCore};

/// A `traceparent` value: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceContext {
    traceparent: String,
}

impl TraceContext {
    /// The caller's context when its header is well formed, else a new trace: a malformed or
    /// all-zero header starts over, as the spec asks.
    pub fn from_header_or_new(header: Option<&str>) -> Self {
        header.and_then(Self::parse).unwrap_or_else(Self::new_root)
    }

    pub fn parse(raw: &str) -> Option<Self> {
        let parts: Vec<&str> = raw.trim().split('-').collect();
        let [version, trace_id, parent_id, flags] = parts.as_slice() else {
            return None;
        };
        let is_hex = |s: &str, len: usize| {
            s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        };
        let is_zero = |s: &str| s.bytes().all(|b| b == b'0');
        let valid = *version == "00"
            && is_hex(trace_id, 32)
            && is_hex(parent_id, 16)
            && is_hex(flags, 2)
            && !is_zero(trace_id)
            && !is_zero(parent_id);
        valid.then(|| Self {
            traceparent: raw.trim().to_owned(),
        })
    }

    pub fn new_root() -> Self {
        let mut trace_id = [0u8; 16];
        let mut span_id = [0u8; 8];
        OsRng.fill_bytes(&mut trace_id);
        OsRng.fill_bytes(&mut span_id);
        Self {
            traceparent: format!("00-{}-{}-01", hex(&trace_id), hex(&span_id)),
        }
    }

    pub fn trace_id(&self) -> &str {
        &self.traceparent[3..35]
    }

    pub fn traceparent(&self) -> &str {
        &self.traceparent
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Display for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.traceparent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_header_is_kept_and_a_bad_one_starts_a_new_trace() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let kept = TraceContext::from_header_or_new(Some(header));
        assert_eq!(kept.traceparent(), header);
        assert_eq!(kept.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");

        for bad in [
            "",
            "garbage",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        ] {
            let fresh = TraceContext::from_header_or_new(Some(bad));
            assert_ne!(fresh.traceparent(), bad);
            assert!(
                TraceContext::parse(fresh.traceparent()).is_some(),
                "a new root is well formed"
            );
        }
    }
}
