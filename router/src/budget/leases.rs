//! Every client's lease on this replica: the arithmetic of spending, refunding, renewing and
//! evicting leases, without I/O.
//!
//! Cannot fail; what it decides to hand back to Redis it returns as [`Handback`]s for the
//! caller to send. At most `limits.max_clients` clients are tracked.

use std::collections::HashMap;
use std::time::Instant;

use super::{lease_size, Bucket, LeaseLimits};

/// One client's lease on this replica.
#[derive(Debug)]
pub(super) struct Lease {
    pub(super) bucket: Bucket,
    /// Points taken from Redis and not spent yet.
    pub(super) points: u64,
    /// What Redis held after its last answer for this client.
    pub(super) redis_left: u64,
    /// When Redis last answered for this client: the lease is spent until [`LeaseLimits::ttl`]
    /// after it.
    pub(super) answered_at: Instant,
    /// [`Leases::clock`] when the client was last seen, for eviction.
    pub(super) last_seen: u64,
}

impl Lease {
    pub(super) fn left(&self) -> u64 {
        self.redis_left
            .saturating_add(self.points)
            .min(self.bucket.capacity)
    }
}

/// Points to hand back to a client's bucket in Redis.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Handback {
    pub(super) client: String,
    pub(super) bucket: Bucket,
    pub(super) points: u64,
}

/// What a take can do without Redis.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Local {
    /// The lease paid; this much is left.
    Paid { left: u64 },
    /// Redis must be asked: `kept` points of a fresh lease go towards the cost, `returned`
    /// points of a stale one go back.
    Ask { kept: u64, returned: u64 },
}

/// Every client's lease on this replica: the arithmetic, without I/O.
#[derive(Debug)]
pub(super) struct Leases {
    pub(super) by_client: HashMap<String, Lease>,
    /// Counts accesses; orders clients by when they were last seen.
    pub(super) clock: u64,
    pub(super) limits: LeaseLimits,
}

impl Leases {
    pub(super) fn new(limits: LeaseLimits) -> Self {
        Self {
            by_client: HashMap::new(),
            clock: 0,
            limits,
        }
    }

    pub(super) fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// Pays `cost` from the client's fresh lease if it holds enough; otherwise withdraws the
    /// whole lease for the ask to Redis (kept towards the cost if fresh, returned if stale).
    pub(super) fn spend(&mut self, client: &str, bucket: Bucket, cost: u64, now: Instant) -> Local {
        let tick = self.tick();
        let limits_ttl = self.limits.ttl;
        let Some(lease) = self.by_client.get_mut(client) else {
            return Local::Ask {
                kept: 0,
                returned: 0,
            };
        };
        lease.last_seen = tick;
        let is_fresh =
            lease.bucket == bucket && now.saturating_duration_since(lease.answered_at) < limits_ttl;
        if is_fresh && lease.points >= cost {
            lease.points -= cost;
            return Local::Paid { left: lease.left() };
        }
        let points = std::mem::take(&mut lease.points);
        if is_fresh {
            Local::Ask {
                kept: points,
                returned: 0,
            }
        } else {
            Local::Ask {
                kept: 0,
                returned: points,
            }
        }
    }

    /// Records Redis's answer: `points` more for the client's lease (what a grant left over,
    /// or what a refused take kept), and what Redis holds. Returns the client's `left` and
    /// what must go back to Redis (a lease grown past its size, clients evicted to make room).
    pub(super) fn record_answer(
        &mut self,
        client: &str,
        bucket: Bucket,
        points: u64,
        redis_left: u64,
        now: Instant,
    ) -> (u64, Vec<Handback>) {
        let tick = self.tick();
        let mut handbacks = Vec::new();
        if !self.by_client.contains_key(client) {
            handbacks.extend(self.make_room());
        }
        let lease = self
            .by_client
            .entry(client.to_owned())
            .or_insert_with(|| Lease {
                bucket,
                points: 0,
                redis_left,
                answered_at: now,
                last_seen: tick,
            });
        if lease.bucket != bucket {
            // The client's bucket changed (an admin's role was taken away): its old lease
            // belongs to the same key, so it goes back there.
            handbacks.push(Handback {
                client: client.to_owned(),
                bucket,
                points: std::mem::take(&mut lease.points),
            });
            lease.bucket = bucket;
        }
        lease.points = lease.points.saturating_add(points);
        lease.redis_left = redis_left;
        lease.answered_at = now;
        lease.last_seen = tick;
        handbacks.extend(Self::trim(client, lease));
        handbacks.retain(|h| h.points > 0);
        (lease.left(), handbacks)
    }

    /// Puts points withdrawn for an ask that failed back into the client's lease, if it is
    /// still tracked (else they are lost: Redis cannot be told now).
    pub(super) fn restore(&mut self, client: &str, points: u64) -> Option<Handback> {
        let lease = self.by_client.get_mut(client)?;
        lease.points = lease.points.saturating_add(points);
        Self::trim(client, lease)
    }

    /// Adds a refund to the client's lease; what the lease cannot hold (or the whole refund,
    /// when the client is not tracked with this bucket) goes back to Redis.
    pub(super) fn refund(&mut self, client: &str, bucket: Bucket, points: u64) -> Option<Handback> {
        match self.by_client.get_mut(client) {
            Some(lease) if lease.bucket == bucket => {
                lease.points = lease.points.saturating_add(points);
                Self::trim(client, lease)
            }
            _ => Some(Handback {
                client: client.to_owned(),
                bucket,
                points,
            }),
        }
    }

    /// Cuts a lease down to [`lease_size`]; the surplus goes back.
    pub(super) fn trim(client: &str, lease: &mut Lease) -> Option<Handback> {
        let size = lease_size(lease.bucket);
        if lease.points <= size {
            return None;
        }
        let surplus = lease.points - size;
        lease.points = size;
        Some(Handback {
            client: client.to_owned(),
            bucket: lease.bucket,
            points: surplus,
        })
    }

    /// When the map is full: forgets the least recently seen quarter of the clients (at least
    /// one) and returns their leases.
    pub(super) fn make_room(&mut self) -> Vec<Handback> {
        if self.by_client.len() < self.limits.max_clients.max(1) {
            return Vec::new();
        }
        let mut seen: Vec<u64> = self.by_client.values().map(|l| l.last_seen).collect();
        let cut = (seen.len() / 4).max(1) - 1;
        let (_, oldest_kept, _) = seen.select_nth_unstable(cut);
        let oldest_kept = *oldest_kept;
        self.remove_where(|lease| lease.last_seen <= oldest_kept)
    }

    /// Forgets the clients whose lease is older than the TTL and returns their leases.
    pub(super) fn sweep(&mut self, now: Instant) -> Vec<Handback> {
        let ttl = self.limits.ttl;
        self.remove_where(|lease| now.saturating_duration_since(lease.answered_at) >= ttl)
    }

    /// Forgets every client and returns every lease.
    pub(super) fn drain(&mut self) -> Vec<Handback> {
        self.remove_where(|_| true)
    }

    pub(super) fn remove_where(&mut self, mut doomed: impl FnMut(&Lease) -> bool) -> Vec<Handback> {
        let mut handbacks = Vec::new();
        self.by_client.retain(|client, lease| {
            if !doomed(lease) {
                return true;
            }
            if lease.points > 0 {
                handbacks.push(Handback {
                    client: client.clone(),
                    bucket: lease.bucket,
                    points: lease.points,
                });
            }
            false
        });
        handbacks
    }
}
