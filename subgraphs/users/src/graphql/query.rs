//! Queries: who am I, and (for admins) who is that.

use async_graphql::{Context, Object, ID};
use emporium_kernel::auth::Viewer;
use emporium_kernel::graphql::ContextState;
use emporium_kernel::ids::UserId;
use emporium_kernel::ApiError;
use tracing::instrument;
use uuid::Uuid;

use super::types::User;
use crate::UsersState;

pub struct Query;

#[Object]
impl Query {
    /// The signed-in user; null when not signed in.
    #[instrument(skip_all)]
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<User>, ApiError> {
        let Some(viewer) = ctx.state::<Viewer>()?.user()? else {
            return Ok(None);
        };
        let state = ctx.state::<UsersState>()?;
        Ok(state
            .store
            .find_by_id(viewer.id.into())
            .await?
            .map(User::new))
    }

    /// Any user by id. ADMIN only.
    #[instrument(skip_all, fields(user_id = %id.as_str()))]
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>, ApiError> {
        ctx.state::<Viewer>()?.require_admin()?;
        load_user(ctx, &id).await
    }

    /// Federation entity resolver: other subgraphs refer to users by id (`Order.customer`).
    /// Authorized like `user(id)` and `me`: a user is shown to itself and to admins only, so
    /// `_entities` reached directly reveals nothing more than the router's API does.
    #[graphql(entity)]
    async fn find_user_by_id(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_user()?;
        if !viewer.is_admin() && Uuid::parse_str(&id).ok() != Some(viewer.id) {
            return Err(ApiError::forbidden());
        }
        load_user(ctx, &id).await
    }
}

async fn load_user(ctx: &Context<'_>, id: &ID) -> Result<Option<User>, ApiError> {
    // Ids are opaque to clients; one that is not ours simply finds nobody.
    let Ok(id) = id.parse::<UserId>() else {
        return Ok(None);
    };
    let state = ctx.state::<UsersState>()?;
    Ok(state.store.find_by_id(id).await?.map(User::new))
}
