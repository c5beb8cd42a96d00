//! The notifications subgraph's schema: the signed-in user's feed (`notifications`,
//! `User.notifications`) and `markNotificationRead`.
//!
//! Nobody sees or changes another user's notifications through `notifications` or
//! `markNotificationRead`: someone else's notification is NOT_FOUND, exactly like one that
//! never existed. `User.notifications` is for the user themself or an ADMIN.

use async_graphql::{Context, EmptySubscription, Object, Schema, SimpleObject, ID};
use chrono::{DateTime, Utc};
use emporium_kernel::auth::Viewer;
use emporium_kernel::graphql::{encode_cursor, ContextState, PageInfo, PageRequest, UserError};
use emporium_kernel::ApiError;
use tracing::instrument;
use uuid::Uuid;

use crate::domain;
use crate::store::{NotificationStore, StoreError};

pub type NotificationsSchema = Schema<Query, Mutation, EmptySubscription>;

pub fn schema(store: NotificationStore) -> NotificationsSchema {
    builder().data(store).finish()
}

/// The subgraph's federation SDL, as the supergraph composition needs it.
pub fn sdl() -> String {
    emporium_kernel::graphql::federation_sdl(&builder().finish())
}

fn builder() -> async_graphql::SchemaBuilder<Query, Mutation, EmptySubscription> {
    emporium_kernel::graphql::subgraph_schema(Query, Mutation, EmptySubscription)
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError::internal(&err)
    }
}

pub struct Notification(domain::Notification);

#[Object]
impl Notification {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// WELCOME, ORDER_CONFIRMED, ORDER_REJECTED, ORDER_SHIPPED, ORDER_DELIVERED or
    /// ORDER_CANCELLED.
    async fn kind(&self) -> &str {
        self.0.kind.as_str()
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    async fn body(&self) -> &str {
        &self.0.body
    }

    /// The order it is about, if any.
    async fn order_id(&self) -> Option<ID> {
        self.0.order_id.map(|id| ID(id.to_string()))
    }

    async fn read(&self) -> bool {
        self.0.is_read
    }

    /// When what it tells about happened.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(SimpleObject)]
pub struct NotificationEdge {
    pub cursor: String,
    pub node: Notification,
}

#[derive(SimpleObject)]
pub struct NotificationConnection {
    pub edges: Vec<NotificationEdge>,
    pub nodes: Vec<Notification>,
    pub page_info: PageInfo,
    pub total_count: i32,
}

impl NotificationConnection {
    fn from_page(page: crate::store::Page) -> Self {
        let cursor = |n: &domain::Notification| encode_cursor(&n.id.to_string());
        Self {
            edges: page
                .notifications
                .iter()
                .map(|n| NotificationEdge {
                    cursor: cursor(n),
                    node: Notification(n.clone()),
                })
                .collect(),
            page_info: PageInfo {
                has_next_page: page.has_next_page,
                end_cursor: page.notifications.last().map(cursor),
            },
            nodes: page.notifications.into_iter().map(Notification).collect(),
            total_count: i32::try_from(page.total_count).unwrap_or(i32::MAX),
        }
    }
}

#[derive(SimpleObject)]
pub struct NotificationPayload {
    pub notification: Option<Notification>,
    pub user_errors: Vec<UserError>,
}

/// One page of `user_id`'s feed, newest first.
async fn feed(
    ctx: &Context<'_>,
    user_id: Uuid,
    first: Option<i32>,
    after: Option<&str>,
    unread_only: bool,
) -> Result<NotificationConnection, ApiError> {
    let page = PageRequest::parse(first, after)?;
    let page = ctx
        .state::<NotificationStore>()?
        .page(user_id, unread_only, page.after_as::<Uuid>()?, page.size)
        .await?;
    Ok(NotificationConnection::from_page(page))
}

// The users subgraph's `User`, seen from notifications: its feed. (No doc comment: it would
// become the supergraph's description of `User`.)
pub struct User {
    id: Uuid,
}

#[Object(name = "User")]
impl User {
    async fn id(&self) -> ID {
        ID(self.id.to_string())
    }

    /// The user's notifications, newest first (the user themself or an ADMIN).
    #[instrument(skip_all, fields(user_id = %self.id))]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(false)")] unread_only: Option<bool>,
    ) -> Result<NotificationConnection, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_user()?;
        if viewer.id != self.id && !viewer.is_admin() {
            return Err(ApiError::forbidden());
        }
        feed(
            ctx,
            self.id,
            first,
            after.as_deref(),
            unread_only.unwrap_or(false),
        )
        .await
    }
}

pub struct Query;

#[Object]
impl Query {
    /// The signed-in user's notifications, newest first; `unreadOnly` leaves out (and does
    /// not count) those already read.
    #[instrument(skip_all)]
    async fn notifications(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default_with = "Some(false)")] unread_only: Option<bool>,
    ) -> Result<NotificationConnection, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_user()?;
        feed(
            ctx,
            viewer.id,
            first,
            after.as_deref(),
            unread_only.unwrap_or(false),
        )
        .await
    }

    /// Federation entity resolver: users' notifications.
    #[graphql(entity)]
    async fn find_user_by_id(&self, id: ID) -> Result<User, ApiError> {
        let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("user"))?;
        Ok(User { id })
    }
}

fn notification_not_found() -> UserError {
    UserError::new("NOT_FOUND", "you have no notification with this id").on_field(&["id"])
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Marks one of the signed-in user's notifications read; marking it again changes
    /// nothing.
    #[instrument(skip_all)]
    async fn mark_notification_read(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<NotificationPayload, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_user()?;
        let not_found = || NotificationPayload {
            notification: None,
            user_errors: vec![notification_not_found()],
        };
        let Ok(id) = Uuid::parse_str(id.trim()) else {
            return Ok(not_found());
        };
        let marked = ctx
            .state::<NotificationStore>()?
            .mark_read(id, viewer.id)
            .await?;
        Ok(match marked {
            Some(notification) => NotificationPayload {
                notification: Some(Notification(notification)),
                user_errors: vec![],
            },
            None => not_found(),
        })
    }
}
