//! The users subgraph's object types.

use async_graphql::{Context, Enum, Object, SimpleObject, ID};
use chrono::{DateTime, Utc};
use emporium_kernel::auth::Viewer;
use emporium_kernel::graphql::{ContextState, UserError};
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

pub struct User {
    account: account::User,
    /// Set when the account was just proven by its password or refresh token, so the payload of
    /// `login` or `register` may show its email before the client holds an access token.
    is_authenticated_self: bool,
}

impl User {
    pub fn new(account: account::User) -> Self {
        Self {
            account,
            is_authenticated_self: false,
        }
    }

    pub fn authenticated_self(account: account::User) -> Self {
        Self {
            account,
            is_authenticated_self: true,
        }
    }
}

#[Object(name = "User")]
impl User {
    async fn id(&self) -> ID {
        ID(self.account.id.to_string())
    }

    /// Visible to the account itself and to admins only.
    async fn email(&self, ctx: &Context<'_>) -> Result<&str, ApiError> {
        if !self.is_authenticated_self {
            let viewer = ctx.state::<Viewer>()?.require_user()?;
            if viewer.id != self.account.id && !viewer.is_admin() {
                return Err(ApiError::forbidden());
            }
        }
        Ok(self.account.email.as_str())
    }

    /// Whether the account opened a link mailed to its address. Visible to the account itself
    /// and to admins only.
    async fn email_verified(&self, ctx: &Context<'_>) -> Result<bool, ApiError> {
        if !self.is_authenticated_self {
            let viewer = ctx.state::<Viewer>()?.require_user()?;
            if viewer.id != self.account.id && !viewer.is_admin() {
                return Err(ApiError::forbidden());
            }
        }
        Ok(self.account.email_verified)
    }

    async fn name(&self) -> &str {
        &self.account.name
    }

    async fn role(&self) -> RoleGql {
        self.account.role.into()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.account.created_at
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

/// The answer of an operation that only succeeds or fails.
#[derive(SimpleObject)]
pub struct OkPayload {
    pub ok: bool,
    pub user_errors: Vec<UserError>,
}

impl OkPayload {
    pub fn succeeded() -> Self {
        Self {
            ok: true,
            user_errors: vec![],
        }
    }

    pub fn failed(errors: Vec<UserError>) -> Self {
        Self {
            ok: false,
            user_errors: errors,
        }
    }
}

#[derive(SimpleObject)]
pub struct LogoutPayload {
    pub ok: bool,
    pub user_errors: Vec<UserError>,
}
