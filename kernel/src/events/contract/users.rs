//! The events the users service publishes.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Event;

/// `user.registered`: a new account, with where to reach it (for notifications).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "event-schemas", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct UserRegistered {
    pub user_id: Uuid,
    /// The address as the user gave it, already validated by the users service.
    pub email: String,
    pub name: String,
}

impl Event for UserRegistered {
    const TYPE: &'static str = "user.registered";
    const VERSION: u32 = 1;

    fn subject(&self) -> String {
        self.user_id.to_string()
    }
}
