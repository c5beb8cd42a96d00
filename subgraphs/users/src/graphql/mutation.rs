//! Mutations: sign up, sign in, refresh, sign out (one login or all), change the password,
//! reset it by a mailed link, verify the email address.

use async_graphql::{Context, InputObject, Object};
use emporium_kernel::auth::{ClientKey, TokenSession, Viewer};
use emporium_kernel::email::Email;
use emporium_kernel::graphql::ContextState;
use emporium_kernel::trace::TraceContext;
use emporium_kernel::ApiError;
use tracing::instrument;

use super::error;
use super::types::{AuthPayload, LogoutPayload, OkPayload, User};
use crate::domain::account::{Registration, User as Account};
use crate::domain::account_token::{presented_hash, LinkToken, Purpose, MAIL_INTERVAL_SECONDS};
use crate::domain::lockout::{self, Admission};
use crate::domain::password::{self, Password};
use crate::domain::refresh_token::{hash_token, RefreshSecret};
use crate::store::{RefreshOutcome, StoreError};
use crate::UsersState;

#[derive(InputObject)]
pub struct RegisterInput {
    pub email: String,
    pub password: String,
    pub name: String,
}

#[derive(InputObject)]
pub struct LoginInput {
    pub email: String,
    pub password: String,
}

pub struct Mutation;

#[Object]
impl Mutation {
    /// Opens a CUSTOMER account and signs it in.
    #[instrument(skip_all)]
    async fn register(
        &self,
        ctx: &Context<'_>,
        input: RegisterInput,
    ) -> Result<AuthPayload, ApiError> {
        let state = ctx.state::<UsersState>()?;
        let registration = match Registration::parse(&input.email, &input.password, &input.name) {
            Ok(registration) => registration,
            Err(invalid) => return Ok(AuthPayload::failed(error::invalid_registration(invalid))),
        };
        let phc = hash_on_blocking_thread(registration.password.expose().to_owned()).await?;
        let created = state
            .store
            .insert_user(
                &registration.email,
                &registration.name,
                &phc,
                emporium_kernel::auth::Role::Customer,
                ctx.state::<TraceContext>()?,
            )
            .await;
        let user = match created {
            Ok(user) => user,
            Err(StoreError::EmailTaken) => {
                return Ok(AuthPayload::failed(vec![error::email_taken()]))
            }
            Err(err) => return Err(err.into()),
        };
        tracing::info!(user_id = %user.id, "account registered");
        // The account exists whatever happens to the mail: a failure is logged, and
        // `resendVerificationEmail` sends another.
        if let Err(err) = mail_link(state, &user, Purpose::EmailVerification).await {
            tracing::warn!(user_id = %user.id, error = %err, "could not store the verification link; none was mailed");
        }
        start_session(state, user).await
    }

    #[instrument(skip_all)]
    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<AuthPayload, ApiError> {
        let state = ctx.state::<UsersState>()?;
        let Ok(email) = Email::parse(&input.email) else {
            return Ok(AuthPayload::failed(vec![error::invalid_credentials()]));
        };
        let client = hash_token(
            ctx.data_opt::<ClientKey>()
                .cloned()
                .unwrap_or_default()
                .as_str(),
        );
        let now = state.clock.now();
        let Some(credentials) = state.store.find_credentials(&email).await? else {
            // Counted and locked like an account, with the same answers and the same time.
            let admission = state
                .store
                .admit_unknown_email_login(&hash_token(email.as_str()), &client, now)
                .await?;
            if let Admission::Refused { until } = admission {
                return Ok(AuthPayload::failed(vec![error::account_locked(
                    lockout::minutes_until(until, now),
                )]));
            }
            verify_on_blocking_thread(input.password, None).await?;
            if admission.locks_client() {
                return Ok(AuthPayload::failed(vec![error::account_locked(
                    lockout::CLIENT_LOCK_MINUTES,
                )]));
            }
            return Ok(AuthPayload::failed(vec![error::invalid_credentials()]));
        };
        let user_id = credentials.user.id;
        // Counted before the password is checked: parallel guesses each count, and a refused
        // attempt costs no hash.
        let admission = state
            .store
            .admit_login(user_id.into(), &client, now)
            .await?;
        if let Admission::Refused { until } = admission {
            return Ok(AuthPayload::failed(vec![error::account_locked(
                lockout::minutes_until(until, now),
            )]));
        }
        if !verify_on_blocking_thread(input.password, Some(credentials.password_hash)).await? {
            if admission.locks_client() {
                tracing::warn!(%user_id, "sign-ins to an account locked for one client after repeated failures");
                return Ok(AuthPayload::failed(vec![error::account_locked(
                    lockout::CLIENT_LOCK_MINUTES,
                )]));
            }
            return Ok(AuthPayload::failed(vec![error::invalid_credentials()]));
        }
        state
            .store
            .record_successful_login(user_id.into(), &client, state.clock.now())
            .await?;
        start_session(state, credentials.user).await
    }

    /// Spends a refresh token and returns a new access token and a new refresh token.
    #[instrument(skip_all)]
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> Result<AuthPayload, ApiError> {
        let state = ctx.state::<UsersState>()?;
        let next = RefreshSecret::generate();
        let outcome = state
            .store
            .rotate_refresh_token(
                &hash_token(&refresh_token),
                &next.hash(),
                state.clock.now(),
                state.settings.refresh_token_ttl,
            )
            .await?;
        match outcome {
            RefreshOutcome::Rotated { user, family } => session_payload(state, user, next, family),
            RefreshOutcome::Reused | RefreshOutcome::Invalid => {
                Ok(AuthPayload::failed(vec![error::invalid_refresh_token()]))
            }
        }
    }

    /// Ends the login the refresh token belongs to (every token rotated from it).
    #[instrument(skip_all)]
    async fn logout(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> Result<LogoutPayload, ApiError> {
        let state = ctx.state::<UsersState>()?;
        let known = state
            .store
            .revoke_family_of(&hash_token(&refresh_token))
            .await?;
        Ok(LogoutPayload {
            ok: known,
            user_errors: if known {
                vec![]
            } else {
                vec![error::invalid_refresh_token()]
            },
        })
    }

    /// Ends every login of the signed-in user, this one included.
    #[instrument(skip_all)]
    async fn logout_everywhere(&self, ctx: &Context<'_>) -> Result<OkPayload, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_user()?;
        let state = ctx.state::<UsersState>()?;
        let revoked = state
            .store
            .revoke_sessions(viewer.id.into(), None, state.clock.now())
            .await?;
        tracing::info!(user_id = %viewer.id, revoked, "signed out everywhere");
        Ok(OkPayload::succeeded())
    }

    /// Sets a new password after checking the current one (throttled like `login`), and ends
    /// every other login of the signed-in user.
    #[instrument(skip_all)]
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        current_password: String,
        new_password: String,
    ) -> Result<OkPayload, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_user()?;
        let state = ctx.state::<UsersState>()?;
        let Some(phc) = state.store.password_hash(viewer.id.into()).await? else {
            return Err(ApiError::unauthenticated());
        };
        let new_password = match Password::parse(&new_password) {
            Ok(password) => password,
            Err(err) => return Ok(OkPayload::failed(vec![error::invalid_new_password(err)])),
        };
        let client = hash_token(
            ctx.data_opt::<ClientKey>()
                .cloned()
                .unwrap_or_default()
                .as_str(),
        );
        let now = state.clock.now();
        let admission = state
            .store
            .admit_login(viewer.id.into(), &client, now)
            .await?;
        if let Admission::Refused { until } = admission {
            return Ok(OkPayload::failed(vec![error::account_locked(
                lockout::minutes_until(until, now),
            )]));
        }
        if !verify_on_blocking_thread(current_password, Some(phc)).await? {
            return Ok(OkPayload::failed(vec![error::wrong_password()]));
        }
        state
            .store
            .record_successful_login(viewer.id.into(), &client, now)
            .await?;
        let phc = hash_on_blocking_thread(new_password.expose().to_owned()).await?;
        let this_login = ctx.data_opt::<TokenSession>().and_then(|session| session.0);
        state
            .store
            .change_password(viewer.id.into(), &phc, this_login, state.clock.now())
            .await?;
        tracing::info!(user_id = %viewer.id, "password changed; the other logins ended");
        Ok(OkPayload::succeeded())
    }

    /// Mails a single-use password-reset link, valid 30 minutes, if the address has an
    /// account. Always `{ ok: true }`, answered before anything is looked up.
    #[instrument(skip_all)]
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        email: String,
    ) -> Result<OkPayload, ApiError> {
        let state = ctx.state::<UsersState>()?.clone();
        tokio::spawn(mail_password_reset(state, email));
        Ok(OkPayload::succeeded())
    }

    /// Sets a new password with a mailed reset link, ends every login of the account, and
    /// signs in.
    #[instrument(skip_all)]
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        token: String,
        new_password: String,
    ) -> Result<AuthPayload, ApiError> {
        let state = ctx.state::<UsersState>()?;
        // Checked before the token is spent: a weak password leaves the link usable.
        let new_password = match Password::parse(&new_password) {
            Ok(password) => password,
            Err(err) => return Ok(AuthPayload::failed(vec![error::invalid_new_password(err)])),
        };
        let phc = hash_on_blocking_thread(new_password.expose().to_owned()).await?;
        let Some(user) = state
            .store
            .reset_password(&presented_hash(&token), &phc, state.clock.now())
            .await?
        else {
            return Ok(AuthPayload::failed(vec![error::invalid_token()]));
        };
        tracing::info!(user_id = %user.id, "password reset by mailed link; every login ended");
        start_session(state, user).await
    }

    /// Marks the address a mailed verification link was sent to as verified.
    #[instrument(skip_all)]
    async fn verify_email(&self, ctx: &Context<'_>, token: String) -> Result<OkPayload, ApiError> {
        let state = ctx.state::<UsersState>()?;
        let verified = state
            .store
            .verify_email(&presented_hash(&token), state.clock.now())
            .await?;
        if !verified {
            return Ok(OkPayload::failed(vec![error::invalid_token()]));
        }
        Ok(OkPayload::succeeded())
    }

    /// Mails the signed-in user a new verification link (at most one a minute). Nothing is
    /// sent to an address that is already verified.
    #[instrument(skip_all)]
    async fn resend_verification_email(&self, ctx: &Context<'_>) -> Result<OkPayload, ApiError> {
        let viewer = ctx.state::<Viewer>()?.require_user()?;
        let state = ctx.state::<UsersState>()?;
        let Some(account) = state.store.find_by_id(viewer.id.into()).await? else {
            return Err(ApiError::unauthenticated());
        };
        if account.email_verified {
            return Ok(OkPayload::succeeded());
        }
        if !mail_link(state, &account, Purpose::EmailVerification).await? {
            return Ok(OkPayload::failed(vec![error::mail_too_soon(
                MAIL_INTERVAL_SECONDS,
            )]));
        }
        Ok(OkPayload::succeeded())
    }
}

/// Stores a new link of `purpose` for `account` and queues its mail; `false` when one went
/// out less than [`MAIL_INTERVAL_SECONDS`] ago (nothing is stored or sent then).
async fn mail_link(
    state: &UsersState,
    account: &Account,
    purpose: Purpose,
) -> Result<bool, StoreError> {
    let token = LinkToken::generate();
    let stored = state
        .store
        .insert_account_token(
            account.id.into(),
            &account.email,
            purpose,
            &token.hash(),
            state.clock.now(),
            chrono::Duration::seconds(MAIL_INTERVAL_SECONDS),
        )
        .await?;
    if stored {
        state.mail.enqueue(token.mail(
            purpose,
            &state.settings.public_url,
            account.email.clone(),
            &account.name,
            account.id,
        ));
    }
    Ok(stored)
}

/// The work of `requestPasswordReset`, after its answer: finds the account and mails it a
/// link. Nothing here reaches the caller, so whether the address has an account shows
/// neither in the answer nor in its timing.
async fn mail_password_reset(state: UsersState, email: String) {
    let Ok(email) = Email::parse(&email) else {
        return;
    };
    let account = match state.store.find_by_email(&email).await {
        Ok(Some(account)) => account,
        Ok(None) => return,
        Err(err) => {
            tracing::error!(error = %err, "looking up the account for a password reset failed; no link was mailed");
            return;
        }
    };
    match mail_link(&state, &account, Purpose::PasswordReset).await {
        Ok(true) => tracing::info!(user_id = %account.id, "password-reset link queued"),
        Ok(false) => {
            tracing::info!(user_id = %account.id, "password reset asked again within a minute; no new link")
        }
        Err(err) => {
            tracing::error!(user_id = %account.id, error = %err, "storing a password-reset link failed; none was mailed")
        }
    }
}

async fn start_session(state: &UsersState, user: Account) -> Result<AuthPayload, ApiError> {
    let refresh = RefreshSecret::generate();
    let family = state
        .store
        .insert_refresh_token(
            user.id.into(),
            &refresh.hash(),
            state.clock.now(),
            state.settings.refresh_token_ttl,
            state.settings.session_max_age,
        )
        .await?;
    session_payload(state, user, refresh, family)
}

fn session_payload(
    state: &UsersState,
    user: Account,
    refresh: RefreshSecret,
    family: uuid::Uuid,
) -> Result<AuthPayload, ApiError> {
    let access_token = state.issue_access_token(&user, family)?;
    Ok(AuthPayload {
        access_token: Some(access_token),
        refresh_token: Some(refresh.into_string()),
        expires_in: Some(state.settings.access_token_ttl.num_seconds() as i32),
        user: Some(User::authenticated_self(user)),
        user_errors: vec![],
    })
}

async fn hash_on_blocking_thread(password: String) -> Result<String, ApiError> {
    let hashed = tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(hashed?)
}

/// Checks `password` against `phc`, or against a dummy hash when there is no account, so both
/// cases take the same time.
async fn verify_on_blocking_thread(
    password: String,
    phc: Option<String>,
) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || match phc {
        Some(phc) => password::verify(&password, &phc),
        None => {
            password::verify_against_dummy(&password);
            false
        }
    })
    .await
    .map_err(|e| ApiError::internal(&e))
}
