//! A key prefix of its own per test on the shared Redis ([`TestRedis`], its keys deleted with
//! the handle), and a `MONITOR` of the commands a test sends ([`RedisMonitor`]). Failing to
//! reach Redis panics with the reason; a failed clean-up on drop only warns.

use uuid::Uuid;

use super::unique_name;

/// The local Redis server tests use, overridable with `EMPORIUM_TEST_REDIS_URL`.
pub fn redis_server_url() -> String {
    std::env::var("EMPORIUM_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A fresh key prefix on the local Redis: every key under it is deleted when the handle is
/// dropped, so tests share the one Redis database without seeing each other's keys.
pub struct TestRedis {
    url: String,
    prefix: String,
}

impl TestRedis {
    pub fn create() -> Self {
        Self {
            url: redis_server_url(),
            prefix: format!("{}:", unique_name()),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Ends with `:`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Deletes every key under the prefix, as a Redis restart that kept nothing would.
    pub fn flush(&self) {
        if let Err(err) = delete_prefixed(&self.url, &self.prefix) {
            panic!("flushing the test keys of {}: {err}", self.prefix);
        }
    }
}

fn delete_prefixed(url: &str, prefix: &str) -> redis::RedisResult<()> {
    use redis::Commands;
    let mut conn = redis::Client::open(url)?.get_connection()?;
    let keys = conn
        .scan_match::<_, String>(format!("{prefix}*"))?
        .collect::<redis::RedisResult<Vec<String>>>()?;
    for chunk in keys.chunks(500) {
        let _: () = conn.del(chunk)?;
    }
    Ok(())
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        if let Err(err) = delete_prefixed(&self.url, &self.prefix) {
            eprintln!(
                "warning: could not delete the test keys {}*: {err}",
                self.prefix
            );
        }
    }
}

impl TestRedis {
    /// Deletes every key under the prefix in one atomic step (a Lua script), as a Redis that
    /// restarted empty or was flushed looks to the keys of this test: nothing is half gone.
    pub fn flush_at_once(&self) {
        let deleted = redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection())
            .and_then(|mut conn| {
                redis::Script::new(
                    r"
                    local keys = redis.call('KEYS', ARGV[1])
                    for i = 1, #keys, 500 do
                      redis.call('DEL', unpack(keys, i, math.min(i + 499, #keys)))
                    end
                    return #keys",
                )
                .arg(format!("{}*", self.prefix))
                .invoke::<i64>(&mut conn)
            });
        if let Err(err) = deleted {
            panic!("flushing the test keys of {}: {err}", self.prefix);
        }
    }
}

/// Every command the local Redis executes while this runs (Redis `MONITOR`), to count a test's
/// round trips. Filter by the test's key prefix: other tests share the server.
pub struct RedisMonitor {
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    url: String,
    /// Shut down on drop, which ends the reader thread.
    stream: std::net::TcpStream,
}

impl Drop for RedisMonitor {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

impl RedisMonitor {
    /// Starts monitoring; commands sent after this returns are seen.
    pub fn start(url: &str) -> Self {
        use std::io::{BufRead, BufReader, Write};
        let address = url
            .trim_start_matches("redis://")
            .split(['/', '?'])
            .next()
            .unwrap_or("127.0.0.1:6379")
            .to_owned();
        let mut stream = std::net::TcpStream::connect(&address)
            .unwrap_or_else(|e| panic!("connecting to Redis at {address} to monitor it: {e}"));
        stream.write_all(b"MONITOR\r\n").expect("sending MONITOR");
        let handle = stream
            .try_clone()
            .expect("a handle on the monitor's connection");
        let mut reader = BufReader::new(stream);
        let mut ok = String::new();
        reader.read_line(&mut ok).expect("MONITOR's answer");
        assert_eq!(ok.trim_end(), "+OK", "MONITOR refused: {ok}");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { return };
                let Ok(mut lines) = sink.lock() else { return };
                lines.push(line);
            }
        });
        Self {
            lines,
            url: url.to_owned(),
            stream: handle,
        }
    }

    /// The commands clients sent so far (one per round trip, or several in a pipeline; not the
    /// commands a script runs, which MONITOR shows as from `lua`) whose text contains `needle`
    /// (a key prefix), once every command sent before this call has arrived.
    pub fn commands_containing(&self, needle: &str) -> Vec<String> {
        let marker = format!("monitor-marker-{}", Uuid::new_v4().simple());
        let mut conn = redis::Client::open(self.url.as_str())
            .and_then(|client| client.get_connection())
            .expect("a Redis connection for the monitor's marker");
        redis::cmd("ECHO")
            .arg(&marker)
            .query::<String>(&mut conn)
            .expect("ECHO");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            {
                let lines = self.lines.lock().expect("monitor lines");
                if lines.iter().any(|l| l.contains(&marker)) {
                    return lines
                        .iter()
                        .filter(|l| l.contains(needle) && !l.contains(" lua] "))
                        .cloned()
                        .collect();
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the monitor did not see its marker"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}
