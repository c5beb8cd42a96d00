//! A throwaway RabbitMQ vhost per test ([`TestVhost`]), managed with `rabbitmqctl` on the
//! local node and deleted with its handle. A `rabbitmqctl` that does not finish within a minute
//! is killed: creating a vhost then panics, deleting one warns.

use super::unique_name;

/// The local RabbitMQ server tests use (no vhost), overridable with `EMPORIUM_TEST_AMQP_URL`.
/// Vhosts are managed with `rabbitmqctl`, so the server must be the local node.
pub fn amqp_server_url() -> String {
    std::env::var("EMPORIUM_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672".to_owned())
}

/// A fresh RabbitMQ vhost, deleted (with everything in it) when the handle is dropped, so
/// tests declare the real exchange and queue names without seeing each other.
pub struct TestVhost {
    name: String,
}

impl TestVhost {
    pub async fn create() -> Self {
        let name = unique_name();
        let vhost = name.clone();
        // rabbitmqctl takes most of a second; keep it off the runtime's threads.
        tokio::task::spawn_blocking(move || {
            rabbitmqctl(&["add_vhost", &vhost]);
            rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]);
        })
        .await
        .expect("rabbitmqctl add_vhost");
        Self { name }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The AMQP URL of this vhost (its name needs no percent-encoding).
    pub fn amqp_url(&self) -> String {
        format!("{}/{}", amqp_server_url(), self.name)
    }

    /// Has the broker close every connection to this vhost, as a broker restart would.
    pub async fn close_connections(&self) {
        let vhost = self.name.clone();
        tokio::task::spawn_blocking(move || {
            rabbitmqctl(&[
                "close_all_connections",
                "--vhost",
                &vhost,
                "--limit",
                "1000",
                "closed by a test",
            ]);
        })
        .await
        .expect("rabbitmqctl close_all_connections");
    }
}

impl Drop for TestVhost {
    fn drop(&mut self) {
        let deleted = bounded_command(std::process::Command::new("rabbitmqctl").args([
            "--quiet",
            "delete_vhost",
            &self.name,
        ]));
        if !matches!(&deleted, Ok(output) if output.status.success()) {
            eprintln!("warning: could not delete test vhost {}", self.name);
        }
    }
}

/// Runs `command` to its end, or kills it after a minute (an error then): `rabbitmqctl` waits
/// forever by default when the node does not answer.
fn bounded_command(command: &mut std::process::Command) -> std::io::Result<std::process::Output> {
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait()?.is_none() {
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("{command:?} did not finish within 60 s"),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Finished: what it printed is small and already in the pipes.
    child.wait_with_output()
}

fn rabbitmqctl(args: &[&str]) {
    let output = bounded_command(
        std::process::Command::new("rabbitmqctl")
            .arg("--quiet")
            .args(args),
    )
    .expect("tests need rabbitmqctl on the PATH and the local RabbitMQ node running");
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}
