//! A throwaway Postgres database per test ([`TestPostgres`]), dropped with its handle.
//! Creating one waits while the server has no connection to spare (many tests at once) and
//! panics with the reason if it cannot within a minute.

use super::{cleanup_on_own_thread, unique_name};

/// The local Postgres server tests use, overridable with `EMPORIUM_TEST_POSTGRES_URL`.
pub fn postgres_server_url() -> String {
    std::env::var("EMPORIUM_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A fresh, empty Postgres database.
pub struct TestPostgres {
    server: String,
    name: String,
}

impl TestPostgres {
    pub async fn create() -> Self {
        use sqlx::Connection;
        let server = postgres_server_url();
        let name = unique_name();
        let created = tokio::time::timeout(std::time::Duration::from_secs(60), async {
            let mut conn = loop {
                match sqlx::PgConnection::connect(&format!("{server}/postgres")).await {
                    Ok(conn) => break conn,
                    // 53300 too_many_connections: other tests' platforms hold them for now.
                    Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("53300") => {
                        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                    }
                    Err(e) => panic!(
                        "tests need Postgres on EMPORIUM_TEST_POSTGRES_URL (default 127.0.0.1:5432): {e}"
                    ),
                }
            };
            sqlx::query(&format!("CREATE DATABASE \"{name}\""))
                .execute(&mut conn)
                .await
                .expect("create test database");
        })
        .await;
        assert!(
            created.is_ok(),
            "Postgres did not create the test database {name} within 60 s"
        );
        Self { server, name }
    }

    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A fresh database with `migrator`'s migrations run, and a pool of 20 connections to it:
    /// a service's store as its integration tests start it.
    pub async fn migrated(migrator: &sqlx::migrate::Migrator) -> (Self, sqlx::PgPool) {
        let postgres = Self::create().await;
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(20)
            .connect(&postgres.url())
            .await
            .expect("connect to the test database");
        migrator
            .run(&pool)
            .await
            .expect("the service's migrations run on the test database");
        (postgres, pool)
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        cleanup_on_own_thread(
            &format!("drop test database {}", self.name),
            || async move {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres"))
                    .await
                    .ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut conn)
                    .await
                    .ok()
            },
        );
    }
}
