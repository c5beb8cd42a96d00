//! The users subgraph's object types.

use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use emporium_kernel::auth::Viewer;
use emporium_kernel::graphql::UserError;
use emporium_kernel::ApiError;

use crate::domain::account;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "Role")]
pub enum RoleGql {
    Customer,
    Admin,
}

impl From<emporium_kernel::auth::Role> for RoleGql {
    fn from(role: emporium_kernel::auth::Role) -> Self {
        match role {
            emporium_kernel::auth::Role::Customer => RoleGql::Customer,
            emporium_kernel::auth::Role::Admin => RoleGql::Admin,
        }
    }
}

pub struct User(pub account::User);

#[Object(name = "User")]
impl User {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Visible to the account itself and to admins only.
    async fn email(&self, ctx: &Context<'_>) -> async_graphql::Result<&str> {
        let viewer = ctx.data::<Viewer>()?.require_user()?;
        if viewer.id != self.0.id && !viewer.is_admin() {
            return Err(ApiError::forbidden().into());
        }
        Ok(self.0.email.as_str())
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn role(&self) -> RoleGql {
        self.0.role.into()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(SimpleObject, Default)]
pub struct AuthPayload {
    /// Short-lived JWT.
    pub access_token: Option<String>,
    /// Opaque and single use: refreshing rotates it.
    pub refresh_token: Option<String>,
    /// Seconds until `accessToken` expires.
    pub expires_in: Option<i32>,
    pub user: Option<User>,
    pub user_errors: Vec<UserError>,
}

impl AuthPayload {
    pub fn failed(errors: Vec<UserError>) -> Self {
        Self {
            user_errors: errors,
            ..Self::default()
        }
    }
}

#[derive(SimpleObject)]
pub struct LogoutPayload {
    pub ok: bool,
    pub user_errors: Vec<UserError>,
}
