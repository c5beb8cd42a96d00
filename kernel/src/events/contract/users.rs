//! The events the users service publishes.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

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

event!(UserRegistered, "user.registered", version 1, |event| event.user_id.to_string());
