//! A throwaway MongoDB database name per test ([`TestMongo`]), dropped with its handle (a
//! drop the server does not answer within a minute is given up with a warning).

use super::{cleanup_on_own_thread, unique_name};

/// The local MongoDB server tests use, overridable with `EMPORIUM_TEST_MONGODB_URL`.
pub fn mongodb_server_url() -> String {
    std::env::var("EMPORIUM_TEST_MONGODB_URL")
        .unwrap_or_else(|_| "mongodb://127.0.0.1:27017/?retryWrites=false".to_owned())
}

/// A fresh MongoDB database name on the local server.
pub struct TestMongo {
    server: String,
    name: String,
}

impl TestMongo {
    pub fn create() -> Self {
        Self {
            server: mongodb_server_url(),
            name: unique_name(),
        }
    }

    /// The server URL (database given separately).
    pub fn server_url(&self) -> &str {
        &self.server
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestMongo {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        cleanup_on_own_thread(
            &format!("drop test database {}", self.name),
            || async move {
                let client = mongodb::Client::with_uri_str(&server).await.ok()?;
                client.database(&name).drop().await.ok()
            },
        );
    }
}
