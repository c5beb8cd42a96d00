//! A real SMTP server per test ([`TestSmtp`], Python's `aiosmtpd`) and the parsing of what it
//! received ([`ReceivedMail`], [`parse_mail`]). Without aiosmtpd it is installed first; a server
//! that does not start panics with the reason.

use uuid::Uuid;

/// The Python interpreter of the venv `scripts/ensure-aiosmtpd.sh` installs aiosmtpd into
/// (`EMPORIUM_TEST_AIOSMTPD_PYTHON` names another).
fn aiosmtpd_python() -> std::path::PathBuf {
    if let Some(python) = std::env::var_os("EMPORIUM_TEST_AIOSMTPD_PYTHON") {
        return python.into();
    }
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = repo.join("tests/smtp/.venv/bin/python");
    // Installed on first use in this process (idempotent, and locked against other
    // processes), so a test never skips for want of it.
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let status = std::process::Command::new(repo.join("scripts/ensure-aiosmtpd.sh"))
            .status()
            .expect("running scripts/ensure-aiosmtpd.sh");
        assert!(status.success(), "scripts/ensure-aiosmtpd.sh failed");
    });
    python
}

/// A real SMTP server on 127.0.0.1 (Python's `aiosmtpd`, its `Mailbox` handler) that keeps
/// every message it accepts in a Maildir of its own; stopped and deleted when dropped.
pub struct TestSmtp {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

/// A message as the test SMTP server received it, its body decoded.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub body: String,
}

impl ReceivedMail {
    /// The first `http(s)://` link in the body that contains `fragment`.
    pub fn link_containing(&self, fragment: &str) -> Option<String> {
        self.body
            .split_whitespace()
            .find(|word| word.starts_with("http") && word.contains(fragment))
            .map(str::to_owned)
    }

    /// The `token` query parameter of the first link containing `fragment`.
    pub fn token_in_link(&self, fragment: &str) -> Option<String> {
        let link = self.link_containing(fragment)?;
        let (_, query) = link.split_once('?')?;
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))
            .map(str::to_owned)
    }
}

impl TestSmtp {
    /// Starts the server on `port` and waits until it accepts connections.
    pub fn start(port: u16) -> Self {
        let dir = std::env::temp_dir().join(format!("emporium-smtp-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("creating the test SMTP directory");
        let log = std::fs::File::create(dir.join("server.log")).expect("SMTP server log");
        let child = std::process::Command::new(aiosmtpd_python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.join("maildir"))
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("starting aiosmtpd");
        let mut server = Self { child, port, dir };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "aiosmtpd exited ({status}) before accepting connections:\n{}",
                    server.log()
                );
            }
            assert!(
                std::time::Instant::now() < deadline,
                "aiosmtpd did not accept connections on port {port}:\n{}",
                server.log()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// `smtp://127.0.0.1:<port>`, for `EMPORIUM_SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> = ["new", "cur"]
            .iter()
            .filter_map(|sub| std::fs::read_dir(self.dir.join("maildir").join(sub)).ok())
            .flatten()
            .filter_map(Result::ok)
            .map(|entry| {
                let modified = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH);
                (modified, entry.path())
            })
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| std::fs::read_to_string(path).ok())
            .map(|raw| parse_mail(&raw))
            .collect()
    }

    /// The messages to `to` (compared case-insensitively).
    pub fn messages_to(&self, to: &str) -> Vec<ReceivedMail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.to_lowercase().contains(&to.to_lowercase()))
            .collect()
    }

    /// Waits (up to two minutes, then panics with the server's log) until `count` messages
    /// to `to` arrived; returns them.
    pub async fn wait_for_messages_to(&self, to: &str, count: usize) -> Vec<ReceivedMail> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let messages = self.messages_to(to);
            if messages.len() >= count {
                return messages;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {count} mails to {to} arrived:\n{}",
                messages.len(),
                self.log()
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

impl Drop for TestSmtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Parses a raw RFC 5322 message (headers unfolded; a quoted-printable or 7/8-bit body).
pub fn parse_mail(raw: &str) -> ReceivedMail {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
    let unfolded = head.replace("\n ", " ").replace("\n\t", " ");
    let header = |name: &str| {
        unfolded
            .lines()
            .find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_owned())
            })
            .unwrap_or_default()
    };
    let body = if header("Content-Transfer-Encoding").eq_ignore_ascii_case("quoted-printable") {
        decode_quoted_printable(body)
    } else {
        body.to_owned()
    };
    ReceivedMail {
        to: header("To"),
        from: header("From"),
        subject: header("Subject"),
        body,
    }
}

fn decode_quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
            {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
