//! Storage conformance: every test body runs once against a fresh SQLite file
//! and once against a fresh PostgreSQL database, through the `Store` trait.
//!
//! PostgreSQL is found at `LATCHKEY_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test creates its own
//! database there and drops it afterwards. When PostgreSQL is unreachable the
//! `_postgres` tests fail: they never skip.

/// `body => name_sqlite, name_postgres;` makes two tests of one body.
macro_rules! on_both_backends {
    ($($body:ident => $sqlite:ident, $postgres:ident;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $sqlite() {
            $crate::harness::run_sqlite($body).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $postgres() {
            $crate::harness::run_postgres($body).await
        }
    )*};
}

macro_rules! assert_err {
    ($result:expr, $pattern:pat) => {
        match $result {
            Err($pattern) => {}
            other => panic!(
                "expected Err({}), got {:?}",
                stringify!($pattern),
                other.map(|_| "Ok(..)")
            ),
        }
    };
}

mod audit;
mod credential_lifecycle;
mod credentials;
mod custom_roles;
mod fixtures;
mod harness;
mod invites;
mod member_removal;
mod members;
mod names;
mod notices;
mod orgs;
mod projects;
mod resource_servers;
mod schema;
mod service_accounts;
mod sessions;
mod teams;
mod throttles;
mod upgrade;
