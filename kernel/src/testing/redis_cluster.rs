//! A Redis Cluster of three masters per test ([`TestRedisCluster`]), from Debian's
//! `redis-server` and `redis-cli`; killed and removed with its handle. Without the programs, or
//! when the cluster does not form within a minute (five attempts), starting it panics.

use super::unique_name;

/// A Redis Cluster of three masters of its own: Debian's `redis-server` with
/// `--cluster-enabled yes` on ports of its own, keeping nothing on disk, in a temporary
/// directory, joined with `redis-cli --cluster create`. The servers are killed and the
/// directory removed when the handle is dropped. `scripts/ensure-test-tools.sh` installs both
/// programs; without them this panics with that advice (a test never skips itself).
pub struct TestRedisCluster {
    dir: std::path::PathBuf,
    servers: Vec<std::process::Child>,
    ports: Vec<u16>,
    prefix: String,
}

/// Ports for cluster nodes (each with its bus port), handed out from a counter in
/// 10000–19999, below Linux's ephemeral range and away from the platform tests' 20000+.
fn cluster_port_pair() -> (u16, u16) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let _ = NEXT.compare_exchange(
        0,
        (std::process::id() % 50) * 100,
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
    loop {
        let n = NEXT.fetch_add(1, Ordering::SeqCst) % 5000;
        let port = 10_000 + u16::try_from(n).expect("below 5000");
        let bus = port + 5000;
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && free(bus) {
            return (port, bus);
        }
    }
}

impl TestRedisCluster {
    pub fn start() -> Self {
        for tool in ["redis-server", "redis-cli"] {
            let found = std::process::Command::new(tool)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                found,
                "{tool} is missing: run scripts/ensure-test-tools.sh (installs Debian's redis-server and redis-tools)"
            );
        }
        // A port can be taken between the check and the server binding it: start again then.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_start() {
                Ok(cluster) => return cluster,
                Err(err) if attempt < 5 => {
                    eprintln!("starting a test Redis Cluster: {err}; once more")
                }
                Err(err) => panic!("starting a test Redis Cluster: {err}"),
            }
        }
    }

    fn try_start() -> Result<Self, String> {
        let dir = std::env::temp_dir().join(unique_name());
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut cluster = Self {
            dir,
            servers: Vec::new(),
            ports: Vec::new(),
            prefix: format!("{}:", unique_name()),
        };
        for _ in 0..3 {
            let (port, bus) = cluster_port_pair();
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string()])
                .args(["--cluster-port", &bus.to_string()])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-node-timeout", "5000"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .arg("--dir")
                .arg(&cluster.dir)
                .args(["--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .args(["--logfile", &format!("redis-{port}.log")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .map_err(|e| format!("redis-server: {e}"))?;
            cluster.servers.push(child);
            cluster.ports.push(port);
        }
        for (i, port) in cluster.ports.clone().into_iter().enumerate() {
            cluster.wait_until(&format!("node {port} answers"), |c| {
                if let Ok(Some(status)) = c.servers[i].try_wait() {
                    return Err(format!("redis-server on {port} exited: {status}"));
                }
                Ok(c.query(port, &["PING"]).is_some_and(|r| r.trim() == "PONG"))
            })?;
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = std::process::Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .map_err(|e| format!("redis-cli: {e}"))?;
        if !created.status.success() {
            return Err(format!(
                "redis-cli --cluster create: {}",
                String::from_utf8_lossy(&created.stdout)
            ));
        }
        // Every node must see every slot served and every other node before keys go in.
        for port in cluster.ports.clone() {
            cluster.wait_until(&format!("node {port} reports the cluster ok"), |c| {
                Ok(c.query(port, &["CLUSTER", "INFO"]).is_some_and(|info| {
                    info.contains("cluster_state:ok")
                        && info.contains("cluster_slots_ok:16384")
                        && info.contains("cluster_known_nodes:3")
                }))
            })?;
        }
        Ok(cluster)
    }

    fn wait_until(
        &mut self,
        what: &str,
        mut check: impl FnMut(&mut Self) -> Result<bool, String>,
    ) -> Result<(), String> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while std::time::Instant::now() < deadline {
            if check(self)? {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err(format!("waited a minute for: {what}"))
    }

    /// A command through `redis-cli` to one node; `None` when it does not answer.
    fn query(&self, port: u16, args: &[&str]) -> Option<String> {
        let out = std::process::Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Every master's URL (any one finds the rest).
    pub fn urls(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect()
    }

    /// A key prefix (ends with `:`), as [`TestRedis::prefix`](super::TestRedis::prefix).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Empties every master, as a cluster restarted without persistence would be.
    pub fn flush(&self) {
        for port in &self.ports {
            let answer = self.query(*port, &["FLUSHALL"]);
            assert!(
                answer.as_deref().is_some_and(|a| a.trim() == "OK"),
                "FLUSHALL on cluster node {port}: {answer:?}"
            );
        }
    }
}

impl Drop for TestRedisCluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
