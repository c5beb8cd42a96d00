//! The events the users service publishes (`shared/events.md`).

use emporium_kernel::events::EventDraft;
use serde_json::json;

use crate::domain::account::User;

/// The `source` of every users event.
pub const EVENT_SOURCE: &str = "/subgraphs/users";
/// The outbox's name: relays of one name take turns.
pub const OUTBOX_NAME: &str = "users";

pub fn user_registered(user: &User) -> EventDraft {
    EventDraft::new(
        "user.registered",
        user.id.to_string(),
        json!({ "userId": user.id, "email": user.email.as_str(), "name": user.name }),
    )
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
