//! `EMPORIUM_QUEUE_TYPE` at the edge: `emporium serve` declares its queues as quorum queues
//! when asked, and refuses to start, naming the queue and the way out, when RabbitMQ already
//! holds one of the other type (RabbitMQ cannot change a queue's type). Each test has its own
//! vhost, database and data directory.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use emporium_kernel::events::broker::{Broker, BrokerSettings};
use emporium_kernel::events::consumer::{self, ConsumerSettings};
use emporium_kernel::testing::{TestPostgres, TestVhost};

use crate::helpers::{emporium_binary, free_port};

/// The users service declares `notifications.users` at start (README, Events).
const QUEUE: &str = "notifications.users";

/// How long a start-up may take before the test gives up on it (a hang guard, not a timing
/// check: a refusal comes within seconds).
const PATIENCE: Duration = Duration::from_secs(90);

struct Users {
    child: Child,
    port: u16,
    _data_dir: tempdir::Dir,
}

mod tempdir {
    /// A directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new() -> Self {
            let path =
                std::env::temp_dir().join(format!("emporium-queues-{}", uuid::Uuid::new_v4()));
            std::fs::create_dir_all(&path).expect("create a data directory");
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// `emporium serve users` on `postgres` and `vhost`, with `EMPORIUM_QUEUE_TYPE=queue_type`
/// (its standard error to `stderr`: piped only when the test reads it after the exit).
fn serve_users(
    postgres: &TestPostgres,
    vhost: &TestVhost,
    queue_type: &str,
    stderr: Stdio,
) -> Users {
    let data_dir = tempdir::Dir::new();
    let port = free_port();
    let child = Command::new(emporium_binary())
        .args(["serve", "users"])
        .env_remove("EMPORIUM_ADMIN_EMAIL")
        .env_remove("EMPORIUM_ADMIN_PASSWORD")
        .env("EMPORIUM_DATABASE_URL", postgres.url())
        .env("EMPORIUM_AMQP_URL", vhost.amqp_url())
        .env("EMPORIUM_QUEUE_TYPE", queue_type)
        .env("EMPORIUM_USERS_PORT", port.to_string())
        .env("EMPORIUM_DATA_DIR", &data_dir.0)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start emporium serve users");
    Users {
        child,
        port,
        _data_dir: data_dir,
    }
}

impl Drop for Users {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn queue_type_of(vhost: &TestVhost, queue: &str) -> Option<String> {
    let output = Command::new("rabbitmqctl")
        .args(["list_queues", "-p", vhost.name(), "name", "type"])
        .args(["--no-table-headers", "--quiet"])
        .output()
        .expect("rabbitmqctl runs");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .find(|(name, _)| name.trim() == queue)
        .map(|(_, kind)| kind.trim().to_owned())
}

#[tokio::test]
async fn serve_with_quorum_queues_declares_its_queues_as_quorum_queues() {
    let (postgres, vhost) = (TestPostgres::create().await, TestVhost::create().await);
    let mut users = serve_users(&postgres, &vhost, "quorum", Stdio::null());

    let ready = format!("http://127.0.0.1:{}/ready", users.port);
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(response) = reqwest::get(&ready).await {
            if response.status().is_success() {
                break;
            }
        }
        assert!(
            users.child.try_wait().expect("poll the child").is_none(),
            "serve users exited in quorum mode"
        );
        assert!(Instant::now() < deadline, "serve users never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert_eq!(queue_type_of(&vhost, QUEUE).as_deref(), Some("quorum"));
    let dead_letters = format!("{QUEUE}.dlq");
    assert_eq!(
        queue_type_of(&vhost, &dead_letters).as_deref(),
        Some("quorum")
    );
}

#[tokio::test]
async fn serve_refuses_to_start_on_a_queue_of_the_other_type_and_names_it() {
    let (postgres, vhost) = (TestPostgres::create().await, TestVhost::create().await);
    let classic = Broker::connect(BrokerSettings::new(vhost.amqp_url()))
        .await
        .expect("connect");
    consumer::declare(&classic, &ConsumerSettings::new(QUEUE, ["user.registered"]))
        .await
        .expect("declared as a classic queue");
    classic.close().await;

    let mut users = serve_users(&postgres, &vhost, "quorum", Stdio::piped());
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = users.child.try_wait().expect("poll the child") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "serve users kept running on a classic {QUEUE} in quorum mode"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    assert!(!status.success(), "serve users exited with success");
    let mut stderr = String::new();
    use std::io::Read;
    users
        .child
        .stderr
        .take()
        .expect("stderr piped")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    for part in [
        "queue notifications.users already exists with other arguments than a quorum queue",
        "EMPORIUM_QUEUE_TYPE",
        "rabbitmqctl delete_queue notifications.users",
    ] {
        assert!(stderr.contains(part), "{part:?} missing from:\n{stderr}");
    }
    assert_eq!(queue_type_of(&vhost, QUEUE).as_deref(), Some("classic"));
}
