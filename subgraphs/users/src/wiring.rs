//! The users service as a process runs it: the server (`/graphql`, the JWKS), the outbox
//! relay, and the pruning of ended logins, with reset and verification mail sent in the
//! background. It consumes no queue. Building the server fails only when the keyring's
//! public keys make no verifier.

use emporium_kernel::auth::Keyring;
use emporium_kernel::events::outbox::postgres::PgOutbox;
use emporium_kernel::mail::{MailQueue, Mailer, RetryPolicy};
use emporium_kernel::service::{Handles, Service, StartError, Started};
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::{Settings, UsersState};

/// How often ended logins' refresh tokens are deleted.
const PRUNE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// The users service, built from its migrated database, its signing keys and its settings.
pub struct UsersService {
    pub pool: PgPool,
    pub keyring: Keyring,
    pub settings: Settings,
    /// Where reset and verification mails go.
    pub mailer: Mailer,
}

impl Service for UsersService {
    fn start(self: Box<Self>, listener: TcpListener, handles: &Handles) -> Started {
        let mail = MailQueue::start(
            self.mailer,
            RetryPolicy::default(),
            handles.shutdown.clone(),
        );
        let state = UsersState::new(self.pool.clone(), self.keyring, self.settings, mail);
        let app = crate::router(state.clone(), handles.readiness())
            .map_err(|err| StartError::new("users", err))?;
        Ok(vec![
            handles.spawn_server("users", listener, app),
            tokio::spawn(crate::prune_periodically(
                state,
                PRUNE_INTERVAL,
                handles.shutdown.clone(),
            )),
            handles.spawn_relay(
                "users",
                PgOutbox::new(self.pool, crate::events::OUTBOX_NAME),
            ),
        ])
    }
}
