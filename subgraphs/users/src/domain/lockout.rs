//! Throttling password guesses without handing attackers a way to lock victims out.
//!
//! Failures are counted per account *and client* ([`emporium_kernel::auth::ClientKey`]: a
//! device id, else the address the proxy saw). A client that fails
//! [`MAX_FAILURES_PER_CLIENT`] times in a row is locked out of that account for
//! [`CLIENT_LOCK_MINUTES`], whatever the password; other clients are not. Against guesses
//! spread over many clients, the account also counts failures from every client: past
//! [`ACCOUNT_FAILURES_BEFORE_BACKOFF`], a client that has never signed in to the account must
//! wait an exponentially growing delay (from [`FIRST_BACKOFF_SECS`] up to [`MAX_BACKOFF_SECS`]) between attempts, while
//! clients that have signed in to it before ("known") are exempt and keep only their own count.
//!
//! [`admit`] decides before any password is checked, from a snapshot taken under the
//! account's row lock, and counts the attempt as a failure up front: N parallel guesses count
//! N, and a refused attempt costs no hash. A refused attempt is not counted, so an attacker
//! who is refused cannot extend anyone's delay.

use chrono::{DateTime, Duration, Utc};

pub const MAX_FAILURES_PER_CLIENT: i32 = 5;
pub const CLIENT_LOCK_MINUTES: i64 = 15;
/// Failures from all clients together before unknown clients are slowed down.
pub const ACCOUNT_FAILURES_BEFORE_BACKOFF: i32 = 10;
/// The first wait of the account-wide backoff; each further failure doubles it.
pub const FIRST_BACKOFF_SECS: i64 = 30;
/// The longest wait the account-wide backoff imposes between attempts.
pub const MAX_BACKOFF_SECS: i64 = 15 * 60;

/// One client's record for one account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientRecord {
    pub failures: i32,
    pub locked_until: Option<DateTime<Utc>>,
    /// Whether this client has signed in to the account before.
    pub is_known: bool,
}

/// The account's record over every client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountRecord {
    pub failures: i32,
    pub throttled_until: Option<DateTime<Utc>>,
}

/// What to do with a login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Refused without checking the password, until `until`.
    Refused { until: DateTime<Utc> },
    /// Check the password; the records to store first, counting this attempt as a failure
    /// (a success resets them afterwards).
    Attempt {
        client: ClientRecord,
        account: AccountRecord,
    },
}

impl Admission {
    /// Whether this attempt, if it fails, leaves its client locked.
    pub fn locks_client(&self) -> bool {
        matches!(self, Admission::Attempt { client, .. } if client.locked_until.is_some())
    }
}

pub fn admit(client: &ClientRecord, account: &AccountRecord, now: DateTime<Utc>) -> Admission {
    if let Some(until) = client.locked_until.filter(|until| *until > now) {
        return Admission::Refused { until };
    }
    if !client.is_known {
        if let Some(until) = account.throttled_until.filter(|until| *until > now) {
            return Admission::Refused { until };
        }
    }
    // A served lock starts a fresh count.
    let previous = if client.locked_until.is_some() {
        0
    } else {
        client.failures
    };
    let client_failures = previous + 1;
    let account_failures = account.failures + 1;
    Admission::Attempt {
        client: ClientRecord {
            failures: client_failures,
            locked_until: (client_failures >= MAX_FAILURES_PER_CLIENT)
                .then(|| now + Duration::minutes(CLIENT_LOCK_MINUTES)),
            is_known: client.is_known,
        },
        account: AccountRecord {
            failures: account_failures,
            throttled_until: backoff(account_failures).map(|delay| now + delay),
        },
    }
}

/// The wait after `failures` failures from all clients: none up to the threshold, then 30 s,
/// 1 min, 2 min ... up to [`MAX_BACKOFF_SECS`].
pub fn backoff(failures: i32) -> Option<Duration> {
    let beyond = failures - ACCOUNT_FAILURES_BEFORE_BACKOFF;
    if beyond <= 0 {
        return None;
    }
    let exponent = u32::try_from(beyond - 1).unwrap_or(0).min(20);
    Some(Duration::seconds(
        (FIRST_BACKOFF_SECS << exponent).min(MAX_BACKOFF_SECS),
    ))
}

/// Whole minutes (rounded up, at least 1) from `now` until `until`, for the message.
pub fn minutes_until(until: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let secs = (until - now).num_seconds().max(1);
    (secs + 59) / 60
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("a valid instant")
    }

    fn attempt(client: &mut ClientRecord, account: &mut AccountRecord) -> bool {
        match admit(client, account, now()) {
            Admission::Refused { .. } => false,
            Admission::Attempt {
                client: c,
                account: a,
            } => {
                *client = c;
                *account = a;
                true
            }
        }
    }

    #[test]
    fn the_fifth_failure_locks_the_client_and_the_lock_refuses_without_counting() {
        let (mut client, mut account) = (ClientRecord::default(), AccountRecord::default());
        let admitted: Vec<bool> = (0..8).map(|_| attempt(&mut client, &mut account)).collect();
        assert_eq!(
            admitted,
            [true, true, true, true, true, false, false, false]
        );
        assert_eq!(client.failures, 5);
        assert_eq!(account.failures, 5, "refused attempts are not counted");
        assert!(client.locked_until.is_some());
    }

    #[test]
    fn another_client_is_not_locked_by_a_failing_one() {
        let (mut attacker, mut account) = (ClientRecord::default(), AccountRecord::default());
        for _ in 0..20 {
            attempt(&mut attacker, &mut account);
        }
        let victim = ClientRecord::default();
        assert!(matches!(
            admit(&victim, &account, now()),
            Admission::Attempt { .. }
        ));
    }

    #[test]
    fn many_failing_clients_slow_down_unknown_clients_but_not_known_ones() {
        let mut account = AccountRecord::default();
        for _ in 0..=ACCOUNT_FAILURES_BEFORE_BACKOFF {
            let mut fresh = ClientRecord::default();
            assert!(attempt(&mut fresh, &mut account));
        }
        let stranger = ClientRecord::default();
        let known = ClientRecord {
            is_known: true,
            ..ClientRecord::default()
        };
        assert_eq!(
            admit(&stranger, &account, now()),
            Admission::Refused {
                until: now() + Duration::seconds(FIRST_BACKOFF_SECS)
            }
        );
        assert!(matches!(
            admit(&known, &account, now()),
            Admission::Attempt { .. }
        ));
    }

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let t = ACCOUNT_FAILURES_BEFORE_BACKOFF;
        assert_eq!(backoff(t), None);
        assert_eq!(backoff(t + 1), Some(Duration::seconds(30)));
        assert_eq!(backoff(t + 2), Some(Duration::seconds(60)));
        assert_eq!(backoff(t + 6), Some(Duration::seconds(MAX_BACKOFF_SECS)));
        assert_eq!(backoff(i32::MAX), Some(Duration::seconds(MAX_BACKOFF_SECS)));
    }

    #[test]
    fn a_served_lock_starts_a_fresh_count() {
        let client = ClientRecord {
            failures: 5,
            locked_until: Some(now() - Duration::seconds(1)),
            is_known: false,
        };
        let Admission::Attempt { client, .. } = admit(&client, &AccountRecord::default(), now())
        else {
            panic!("the lock is over");
        };
        assert_eq!(client.failures, 1);
        assert_eq!(client.locked_until, None);
    }
}
