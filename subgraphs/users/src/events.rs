//! The events the users service publishes (`shared/events.md`).

use emporium_kernel::events::contract::users::UserRegistered;
use emporium_kernel::events::EventDraft;

use crate::domain::account::User;

/// The `source` of every users event.
pub const EVENT_SOURCE: &str = "/subgraphs/users";
/// The outbox's name: relays of one name take turns.
pub const OUTBOX_NAME: &str = "users";

pub fn user_registered(user: &User) -> EventDraft {
    EventDraft::of(&UserRegistered {
        user_id: user.id,
        email: user.email.as_str().to_owned(),
        name: user.name.clone(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_users_migrations_create_the_kernel_outbox_tables() {
        let migration = include_str!("../../../migrations/users/0002_outbox.sql");
        assert_eq!(
            migration,
            emporium_kernel::events::outbox::postgres::OUTBOX_TABLES_SQL
        );
    }
}
