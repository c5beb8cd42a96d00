//! Account lockout against password guessing: after [`MAX_FAILED_LOGINS`] consecutive failures
//! the account refuses logins for [`LOCKOUT_MINUTES`], whatever the password.

use chrono::{DateTime, Utc};

pub const MAX_FAILED_LOGINS: i32 = 5;
pub const LOCKOUT_MINUTES: i64 = 15;

pub fn is_locked(locked_until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    locked_until.is_some_and(|until| until > now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn an_account_is_locked_only_until_the_lock_expires() {
        let now = Utc::now();
        assert!(!is_locked(None, now));
        assert!(is_locked(Some(now + Duration::minutes(1)), now));
        assert!(!is_locked(Some(now - Duration::seconds(1)), now));
    }
}
