//! Outbound mail: one plain-text message to one address, over SMTP (`lettre`) or, for
//! development, as `.eml` files in a directory.
//!
//! Guarantees:
//! - [`Mailer::send`] returns `Ok` only once the SMTP server accepted the message (or the file
//!   is written); every failure is a [`MailError`] that says whether trying again can help
//!   ([`MailError::is_permanent`]). It never logs the recipient, the subject or the body (they
//!   may hold a one-time link).
//! - [`MailQueue`] sends in the background, so whoever enqueues a mail neither waits for the
//!   mail server nor learns whether it answered (a password-reset request must not reveal
//!   whether an address has an account). It retries a failed mail with backoff and logs every
//!   failure and every mail it gives up on, by its log-safe label, at `warn` and `error`: a mail
//!   is never lost silently. A full queue refuses the mail and logs it. The queue is in memory:
//!   mails not yet sent when the process stops are lost; the mails sent this way (reset and
//!   verification links) can be asked for again.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, SinglePart};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::email::Email;

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// `EMPORIUM_SMTP_URL` is not a URL lettre understands (the URL itself is never shown: it
    /// may hold a password).
    #[error("the SMTP URL is invalid: {0}")]
    InvalidUrl(String),
    #[error("the sender address is invalid: {0}")]
    InvalidSender(String),
    /// The recipient is not an address SMTP can carry.
    #[error("the recipient address cannot be mailed: {0}")]
    InvalidRecipient(String),
    #[error("the message could not be built: {0}")]
    Message(String),
    /// The server could not be reached, or refused the message.
    #[error("the mail server did not take the message: {message}")]
    Smtp { message: String, permanent: bool },
    #[error("writing the message into {dir}: {message}")]
    File { dir: PathBuf, message: String },
}

impl MailError {
    /// Whether sending the same message again cannot succeed (a bad address, a permanent
    /// SMTP refusal); a connection failure or a temporary refusal is worth retrying.
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::InvalidUrl(_)
            | Self::InvalidSender(_)
            | Self::InvalidRecipient(_)
            | Self::Message(_) => true,
            Self::Smtp { permanent, .. } => *permanent,
            Self::File { .. } => false,
        }
    }
}

/// One plain-text mail. `label` names it in logs (for example `password-reset user=<id>`) and
/// must hold no secret and no address.
#[derive(Clone)]
pub struct OutgoingMail {
    pub to: Email,
    pub subject: String,
    pub text: String,
    pub label: String,
}

impl std::fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

enum Transport {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// `host:port`, for start-up messages (no credentials).
        server: String,
    },
    Files {
        transport: AsyncFileTransport<Tokio1Executor>,
        dir: PathBuf,
    },
}

/// Sends mail from one sender address. Cheap to clone.
#[derive(Clone)]
pub struct Mailer {
    transport: Arc<Transport>,
    from: Mailbox,
}

impl Mailer {
    /// Over SMTP: `smtp://host:port` (plain; a local relay), `smtp://host?tls=required`
    /// (STARTTLS), `smtps://host` (TLS), with `user:password@` for authentication.
    pub fn smtp(url: &str, from: &str) -> Result<Self, MailError> {
        let parsed = url::Url::parse(url).map_err(|e| MailError::InvalidUrl(e.to_string()))?;
        let server = format!(
            "{}:{}",
            parsed.host_str().unwrap_or_default(),
            parsed
                .port()
                .map_or_else(|| "default port".to_owned(), |p| p.to_string())
        );
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailError::InvalidUrl(e.to_string()))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Self {
            transport: Arc::new(Transport::Smtp { transport, server }),
            from: parse_sender(from)?,
        })
    }

    /// Into `dir` (created if missing), one `<uuid>.eml` file per mail: development without a
    /// mail server.
    pub fn directory(dir: &Path, from: &str) -> Result<Self, MailError> {
        std::fs::create_dir_all(dir).map_err(|e| MailError::File {
            dir: dir.to_owned(),
            message: e.to_string(),
        })?;
        Ok(Self {
            transport: Arc::new(Transport::Files {
                transport: AsyncFileTransport::<Tokio1Executor>::new(dir),
                dir: dir.to_owned(),
            }),
            from: parse_sender(from)?,
        })
    }

    /// Where mail goes, for start-up messages: `SMTP host:port` or `.eml files in <dir>`.
    pub fn destination(&self) -> String {
        match self.transport.as_ref() {
            Transport::Smtp { server, .. } => format!("SMTP {server}"),
            Transport::Files { dir, .. } => format!(".eml files in {}", dir.display()),
        }
    }

    /// Sends `mail` now; `Ok` once the server accepted it (or the file is written).
    pub async fn send(&self, mail: &OutgoingMail) -> Result<(), MailError> {
        let to: lettre::Address =
            mail.to
                .as_str()
                .parse()
                .map_err(|e: lettre::address::AddressError| {
                    MailError::InvalidRecipient(e.to_string())
                })?;
        // Quoted-printable whatever the text: links longer than a line stay intact and
        // readable by any client.
        let body =
            Body::new_with_encoding(mail.text.clone(), ContentTransferEncoding::QuotedPrintable)
                .map_err(|_| MailError::Message("the body cannot be encoded".to_owned()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(mail.subject.clone())
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(body),
            )
            .map_err(|e| MailError::Message(e.to_string()))?;
        match self.transport.as_ref() {
            Transport::Smtp { transport, .. } => {
                transport.send(message).await.map_err(|e| MailError::Smtp {
                    permanent: e.is_permanent(),
                    message: describe_smtp_error(&e),
                })?;
            }
            Transport::Files { transport, dir } => {
                transport.send(message).await.map_err(|e| MailError::File {
                    dir: dir.clone(),
                    message: e.to_string(),
                })?;
            }
        }
        Ok(())
    }
}

/// What went wrong, without the server's own words: a refusal's text often quotes the
/// recipient's address, which must stay out of logs. The reply code says enough.
fn describe_smtp_error(err: &lettre::transport::smtp::Error) -> String {
    if let Some(code) = err.status() {
        let kind = if err.is_permanent() {
            "permanently"
        } else {
            "temporarily"
        };
        return format!("the server refused {kind} (reply code {code})");
    }
    if err.is_timeout() {
        return "the server did not answer in time".to_owned();
    }
    if err.is_tls() {
        return "the TLS handshake with the server failed".to_owned();
    }
    let text = err.to_string();
    if text.contains('@') {
        "the conversation with the server failed".to_owned()
    } else {
        text
    }
}

fn parse_sender(from: &str) -> Result<Mailbox, MailError> {
    from.parse()
        .map_err(|e: lettre::address::AddressError| MailError::InvalidSender(e.to_string()))
}

/// How a [`MailQueue`] retries.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per mail, the first included.
    pub attempts: u32,
    /// The wait before the second attempt; each later wait is four times the one before.
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts over about 7 minutes (waits of 5 s, 20 s, 80 s, 320 s): a reset link is
    /// valid for 30 minutes, so much later attempts would deliver a dead link.
    fn default() -> Self {
        Self {
            attempts: 5,
            first_backoff: Duration::from_secs(5),
        }
    }
}

/// Mails waiting for the background sender at most; beyond it [`MailQueue::enqueue`] refuses.
const QUEUE_CAPACITY: usize = 1_000;
/// Mails being sent (or waiting to be retried) at once.
const CONCURRENT_SENDS: usize = 8;

/// Sends mails in the background with retries (see the module docs).
#[derive(Clone)]
pub struct MailQueue {
    sender: mpsc::Sender<OutgoingMail>,
    destination: Arc<str>,
}

impl MailQueue {
    /// Starts the background sender on the current tokio runtime; it stops at `shutdown`
    /// (mails not yet sent are logged as dropped).
    pub fn start(mailer: Mailer, retry: RetryPolicy, shutdown: CancellationToken) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let destination = Arc::from(mailer.destination());
        tokio::spawn(run_queue(mailer, retry, receiver, shutdown));
        Self {
            sender,
            destination,
        }
    }

    /// Where the queue's mail goes (see [`Mailer::destination`]).
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// Hands `mail` to the background sender without waiting; `false` (and an error log) when
    /// the queue is full or stopped.
    pub fn enqueue(&self, mail: OutgoingMail) -> bool {
        let label = mail.label.clone();
        match self.sender.try_send(mail) {
            Ok(()) => true,
            Err(err) => {
                let reason = match err {
                    mpsc::error::TrySendError::Full(_) => "the mail queue is full",
                    mpsc::error::TrySendError::Closed(_) => "the mail queue has stopped",
                };
                tracing::error!(mail = %label, reason, "mail not sent");
                false
            }
        }
    }
}

async fn run_queue(
    mailer: Mailer,
    retry: RetryPolicy,
    mut receiver: mpsc::Receiver<OutgoingMail>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_SENDS));
    loop {
        let mail = tokio::select! {
            () = shutdown.cancelled() => break,
            mail = receiver.recv() => match mail {
                Some(mail) => mail,
                None => break,
            },
        };
        let slot = tokio::select! {
            () = shutdown.cancelled() => {
                tracing::error!(mail = %mail.label, "mail not sent: the process is stopping");
                break;
            }
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed.
                Err(_) => break,
            },
        };
        let mailer = mailer.clone();
        let retry = retry.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            send_with_retries(&mailer, &mail, &retry, &shutdown).await;
            drop(slot);
        });
    }
    receiver.close();
    while let Ok(mail) = receiver.try_recv() {
        tracing::error!(mail = %mail.label, "mail not sent: the process is stopping");
    }
}

/// Sends `mail`, retrying what may succeed later; logs each failure. Returns whether it went.
pub async fn send_with_retries(
    mailer: &Mailer,
    mail: &OutgoingMail,
    retry: &RetryPolicy,
    shutdown: &CancellationToken,
) -> bool {
    let mut backoff = retry.first_backoff;
    for attempt in 1..=retry.attempts.max(1) {
        match mailer.send(mail).await {
            Ok(()) => {
                tracing::info!(mail = %mail.label, attempt, "mail sent");
                return true;
            }
            Err(err) if err.is_permanent() || attempt >= retry.attempts => {
                tracing::error!(mail = %mail.label, attempt, error = %err, "mail not sent; giving up");
                return false;
            }
            Err(err) => {
                tracing::warn!(mail = %mail.label, attempt, error = %err, retry_in = ?backoff, "sending a mail failed; retrying");
            }
        }
        if shutdown
            .run_until_cancelled(tokio::time::sleep(backoff))
            .await
            .is_none()
        {
            tracing::error!(mail = %mail.label, "mail not sent: the process is stopping");
            return false;
        }
        backoff = backoff.saturating_mul(4);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(to: &str) -> OutgoingMail {
        OutgoingMail {
            to: Email::parse(to).expect("email"),
            subject: "Hello".to_owned(),
            text: format!(
                "A long line with a link: http://127.0.0.1:4000/reset-password?token={}\n",
                "x".repeat(43)
            ),
            label: "test".to_owned(),
        }
    }

    #[tokio::test]
    async fn a_directory_mailer_writes_one_eml_file_per_mail() {
        let dir = std::env::temp_dir().join(format!("emporium-mail-{}", uuid::Uuid::new_v4()));
        let mailer = Mailer::directory(&dir, "Emporium <shop@example.com>").expect("mailer");
        assert!(mailer.destination().contains(&dir.display().to_string()));
        mailer.send(&mail("ann@example.com")).await.expect("sent");
        let files: Vec<_> = std::fs::read_dir(&dir)
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .collect();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
        let raw = std::fs::read_to_string(&files[0]).expect("read");
        assert!(raw.contains("To: ann@example.com"), "{raw}");
        assert!(
            raw.contains("Content-Transfer-Encoding: quoted-printable"),
            "{raw}"
        );
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn bad_configuration_is_refused_without_echoing_the_url() {
        let err = Mailer::smtp("not a url with s3cret", "shop@example.com")
            .err()
            .expect("refused");
        assert!(matches!(err, MailError::InvalidUrl(_)));
        assert!(!err.to_string().contains("s3cret"));
        assert!(matches!(
            Mailer::smtp("smtp://127.0.0.1:2525", "not an address").err(),
            Some(MailError::InvalidSender(_))
        ));
    }

    /// A one-connection SMTP server that refuses every recipient, quoting the address.
    async fn refusing_server() -> u16 {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            let _ = write.write_all(b"220 test ESMTP\r\n").await;
            while let Ok(Some(line)) = lines.next_line().await {
                let upper = line.to_ascii_uppercase();
                let reply: &[u8] = if upper.starts_with("RCPT") {
                    b"550 5.1.1 <ann@example.com>: Recipient address rejected\r\n"
                } else if upper.starts_with("QUIT") {
                    b"221 bye\r\n"
                } else {
                    b"250 ok\r\n"
                };
                if write.write_all(reply).await.is_err() || upper.starts_with("QUIT") {
                    return;
                }
            }
        });
        port
    }

    #[tokio::test]
    async fn a_refused_recipient_is_permanent_and_its_address_stays_out_of_the_error() {
        let port = refusing_server().await;
        let mailer =
            Mailer::smtp(&format!("smtp://127.0.0.1:{port}"), "shop@example.com").expect("mailer");
        let err = mailer
            .send(&mail("ann@example.com"))
            .await
            .expect_err("refused");
        assert!(err.is_permanent(), "{err}");
        assert!(err.to_string().contains("550"), "{err}");
        assert!(!err.to_string().contains("ann@"), "{err}");
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_retryable_failure() {
        // A port nothing listens on: bind one, then drop it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let mailer =
            Mailer::smtp(&format!("smtp://127.0.0.1:{port}"), "shop@example.com").expect("mailer");
        let err = mailer
            .send(&mail("ann@example.com"))
            .await
            .expect_err("failed");
        assert!(!err.is_permanent(), "{err}");
        let sent = send_with_retries(
            &mailer,
            &mail("ann@example.com"),
            &RetryPolicy {
                attempts: 2,
                first_backoff: Duration::from_millis(1),
            },
            &CancellationToken::new(),
        )
        .await;
        assert!(!sent);
    }
}
