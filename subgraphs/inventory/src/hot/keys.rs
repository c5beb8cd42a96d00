//! The keys of the hot counts: which bucket (hash tag) a product falls in, and how each key
//! is spelled under the prefix.
//!
//! [`Bucket::of`] is a pure, stable hash, so every process (and every restart) puts a product
//! in the same bucket; [`spell_key`] is the one place that spells a key, and every key of a
//! product carries its bucket's tag, so a cluster serves all of them from one slot. Nothing
//! here talks to Redis or can fail.

use super::BUCKETS;

/// The bucket (hash tag) a product's keys share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bucket(u16);

impl Bucket {
    /// A stable hash of the product id (FNV-1a), so every process agrees on it.
    pub fn of(product_id: &str) -> Self {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in product_id.as_bytes() {
            hash ^= u32::from(*byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        // The remainder is below BUCKETS, so it fits.
        Self(u16::try_from(hash % u32::from(BUCKETS)).expect("below BUCKETS"))
    }

    pub fn all() -> impl Iterator<Item = Bucket> {
        (0..BUCKETS).map(Self)
    }
}

/// A key of the hot counts; [`HotStock::key`](super::HotStock::key) spells it.
#[derive(Debug, Clone, Copy)]
pub enum HotKey<'a> {
    Ready(Bucket),
    Products(Bucket),
    Stock(&'a str),
    Holds(&'a str),
    Op { product_id: &'a str, op_id: &'a str },
}

pub(super) fn spell_key(p: &str, key: HotKey<'_>) -> String {
    match key {
        HotKey::Ready(b) => format!("{p}{{{}}}:ready", b.0),
        HotKey::Products(b) => format!("{p}{{{}}}:products", b.0),
        HotKey::Stock(id) => format!("{p}{{{}}}:stock:{id}", Bucket::of(id).0),
        HotKey::Holds(id) => format!("{p}{{{}}}:holds:{id}", Bucket::of(id).0),
        HotKey::Op { product_id, op_id } => {
            format!("{p}{{{}}}:op:{op_id}", Bucket::of(product_id).0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{spell_key, Bucket, HotKey, BUCKETS};

    /// The hash tag a cluster hashes: what is between the first `{` and the next `}`.
    fn tag(key: &str) -> &str {
        let open = key.find('{').expect("a tag");
        let close = key[open..].find('}').expect("closed") + open;
        &key[open + 1..close]
    }

    #[test]
    fn every_key_of_one_product_shares_its_buckets_tag() {
        for id in [
            "p1",
            "0193a4c2-7d1e-7c3a-9f00-1234567890ab",
            "{evil}",
            "a}b{c",
        ] {
            let b = Bucket::of(id);
            // The keys of the product scripts: set_on_hand, reserve_line, release, levels.
            let keys = [
                HotKey::Ready(b),
                HotKey::Products(b),
                HotKey::Stock(id),
                HotKey::Holds(id),
                HotKey::Op {
                    product_id: id,
                    op_id: "{op}",
                },
            ]
            .map(|k| spell_key("shop:inventory:", k));
            for key in &keys {
                assert_eq!(tag(key), b.0.to_string(), "{key}");
            }
        }
    }

    #[test]
    fn buckets_are_stable_and_spread() {
        assert_eq!(Bucket::of("a"), Bucket::of("a"));
        let used: std::collections::BTreeSet<Bucket> = (0..2000)
            .map(|n| Bucket::of(&format!("product-{n}")))
            .collect();
        assert!(used.iter().all(|b| b.0 < BUCKETS));
        assert_eq!(
            used.len(),
            usize::from(BUCKETS),
            "2000 ids reach every bucket"
        );
        assert_eq!(Bucket::all().count(), usize::from(BUCKETS));
    }
}
