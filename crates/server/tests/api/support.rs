//! One way to start latchkey for a test: the real server on 127.0.0.1:0, on a
//! fresh SQLite file or a freshly created PostgreSQL database, and a small
//! HTTP client for it.

use latchkey_server::{RunningServer, ServeConfig};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use tempfile::TempDir;

pub const ADMIN_EMAIL: &str = "admin@acme.test";
pub const PASSWORD: &str = "correct horse battery";
pub const SECRET_KEY: &str = "test-secret-key-test-secret-key-0123456789";

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Instantiates each listed test once per backend: `name::sqlite`, `name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name($crate::support::TestApp::spawn($crate::support::Backend::Sqlite).await).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name($crate::support::TestApp::spawn($crate::support::Backend::Postgres).await).await
                }
            }
        )*
    };
}

pub use latchkey_store::testing::PgDatabase;

#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Token(String),
    Session {
        cookie: String,
        csrf: String,
    },
    /// A session without its CSRF token.
    SessionNoCsrf {
        cookie: String,
    },
    Header(String),
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn results(&self) -> &Value {
        &self.body["results"]
    }

    #[track_caller]
    pub fn expect(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        self.results()
    }

    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "body: {}",
            self.body
        );
        assert_eq!(self.body["status"], "error");
        assert_eq!(self.body["error"]["statusCode"], status);
    }
}

/// A signed-up user with a session and a full-role PAT.
#[allow(dead_code)]
#[derive(Clone, Debug)]
pub struct Person {
    pub uuid: String,
    pub email: String,
    pub session: Auth,
    pub pat: Auth,
    pub pat_token: String,
}

#[allow(dead_code)]
pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub server: Option<RunningServer>,
    pub org_uuid: String,
    pub admin: Person,
    pub dir: TempDir,
    pub backend: Backend,
    _pg: Option<PgDatabase>,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut ServeConfig)) -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = ServeConfig::for_data_dir(dir.path().join("data"));
        config.secret_key = Some(SECRET_KEY.into());
        config.last_used_flush_secs = 1;
        config.setup_org_name = Some("Acme".into());
        config.setup_admin_email = Some(ADMIN_EMAIL.into());
        config.setup_admin_password = Some(PASSWORD.into());
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let db = PgDatabase::create().await;
                config.database.database_url = Some(db.url.clone().into());
                Some(db)
            }
        };
        configure(&mut config);
        let server = latchkey_server::start(config).await.expect("server starts");
        let base = format!("http://{}", server.addr);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let mut app = TestApp {
            base,
            http,
            server: Some(server),
            org_uuid: String::new(),
            admin: Person {
                uuid: String::new(),
                email: ADMIN_EMAIL.into(),
                session: Auth::None,
                pat: Auth::None,
                pat_token: String::new(),
            },
            dir,
            backend,
            _pg: pg,
        };
        let session = app.login(ADMIN_EMAIL, PASSWORD).await;
        let me = app.get("/api/v1/user", &session).await;
        app.org_uuid = me.expect(200)["org"]["uuid"]
            .as_str()
            .expect("org")
            .to_string();
        let uuid = me.results()["principal"]["uuid"]
            .as_str()
            .expect("uuid")
            .to_string();
        let (_, token) = app
            .create_pat(&session, json!({ "name": "admin full" }))
            .await;
        app.admin = Person {
            uuid,
            email: ADMIN_EMAIL.into(),
            session,
            pat: Auth::Token(token.clone()),
            pat_token: token,
        };
        app
    }

    #[allow(dead_code)]
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }

    pub async fn send(&self, method: Method, path: &str, auth: &Auth, body: Option<Value>) -> Resp {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        req = match auth {
            Auth::None => req,
            Auth::Token(t) => req.header("Authorization", format!("ApiKey {t}")),
            Auth::Header(h) => req.header("Authorization", h),
            Auth::Session { cookie, csrf } => req
                .header("Cookie", format!("latchkey_session={cookie}"))
                .header("X-CSRF-Token", csrf),
            Auth::SessionNoCsrf { cookie } => {
                req.header("Cookie", format!("latchkey_session={cookie}"))
            }
        };
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            body,
            headers,
        }
    }

    /// A resource server made as the operator command makes it, on this
    /// server's store: (clientId, secret).
    pub async fn resource_server(&self, name: &str) -> (String, String) {
        let hasher = latchkey_core::TokenHasher::new(SECRET_KEY.as_bytes()).expect("key");
        let store = &self.server.as_ref().expect("running").store;
        let (server, secret) =
            latchkey_server::operator::create_resource_server(store.as_ref(), &hasher, name)
                .await
                .expect("resource server");
        (server.uuid.to_string(), secret.expose().to_string())
    }

    /// `POST /oauth2/introspect` with this `Authorization` value (if any)
    /// and a form body (`token=…`, encoded here).
    pub async fn introspect(&self, authorization: Option<&str>, token: &str) -> Resp {
        let body = format!("token={}&token_type_hint=access_token", form_encode(token));
        self.introspect_raw(
            authorization,
            Some("application/x-www-form-urlencoded"),
            body,
        )
        .await
    }

    pub async fn introspect_raw(
        &self,
        authorization: Option<&str>,
        content_type: Option<&str>,
        body: String,
    ) -> Resp {
        let mut req = self.http.post(format!("{}/oauth2/introspect", self.base));
        if let Some(a) = authorization {
            req = req.header("Authorization", a);
        }
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        let resp = req.body(body).send().await.expect("request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Resp {
            status,
            body,
            headers,
        }
    }

    pub async fn get(&self, path: &str, auth: &Auth) -> Resp {
        self.send(Method::GET, path, auth, None).await
    }

    pub async fn post(&self, path: &str, auth: &Auth, body: Value) -> Resp {
        self.send(Method::POST, path, auth, Some(body)).await
    }

    pub async fn patch(&self, path: &str, auth: &Auth, body: Value) -> Resp {
        self.send(Method::PATCH, path, auth, Some(body)).await
    }

    pub async fn put(&self, path: &str, auth: &Auth, body: Value) -> Resp {
        self.send(Method::PUT, path, auth, Some(body)).await
    }

    pub async fn delete(&self, path: &str, auth: &Auth) -> Resp {
        self.send(Method::DELETE, path, auth, None).await
    }

    pub async fn try_login(&self, email: &str, password: &str, org: Option<&str>) -> Resp {
        let mut body = json!({ "email": email, "password": password });
        if let Some(org) = org {
            body["orgUuid"] = json!(org);
        }
        self.post("/api/v1/login", &Auth::None, body).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Auth {
        let resp = self.try_login(email, password, None).await;
        let csrf = resp.expect(200)["csrfToken"]
            .as_str()
            .expect("csrf")
            .to_string();
        let set_cookie = resp
            .headers
            .get("set-cookie")
            .expect("cookie")
            .to_str()
            .expect("ascii");
        let cookie = set_cookie
            .split(';')
            .next()
            .and_then(|kv| kv.split_once('='))
            .map(|(_, v)| v.to_string())
            .expect("cookie value");
        Auth::Session { cookie, csrf }
    }

    /// Creates a PAT; returns (uuid, token).
    pub async fn create_pat(&self, auth: &Auth, body: Value) -> (String, String) {
        let resp = self
            .post("/api/v1/user/me/personal-access-tokens", auth, body)
            .await;
        let r = resp.expect(201);
        (
            r["uuid"].as_str().expect("uuid").to_string(),
            r["token"].as_str().expect("token").to_string(),
        )
    }

    /// Adds a member by the admin; returns (user uuid, invite code if any).
    pub async fn add_member(&self, email: &str, role: &str) -> (String, Option<String>) {
        let resp = self
            .post(
                "/api/v1/org/users",
                &self.admin.session,
                json!({ "email": email, "role": role }),
            )
            .await;
        let r = resp.expect(201);
        let code = r["inviteUrl"]
            .as_str()
            .map(|u| u.trim_start_matches("/invite/").to_string());
        (r["userUuid"].as_str().expect("uuid").to_string(), code)
    }

    /// A new member with a password, a session and a full-role PAT.
    pub async fn person(&self, email: &str, role: &str) -> Person {
        let (uuid, code) = self.add_member(email, role).await;
        let code = code.expect("a new user gets an invite");
        self.post(
            &format!("/api/v1/invites/{code}"),
            &Auth::None,
            json!({ "password": PASSWORD }),
        )
        .await
        .expect(200);
        let session = self.login(email, PASSWORD).await;
        let (_, token) = self
            .create_pat(&session, json!({ "name": format!("{role} token") }))
            .await;
        Person {
            uuid,
            email: email.into(),
            session,
            pat: Auth::Token(token.clone()),
            pat_token: token,
        }
    }

    pub async fn create_project(&self, name: &str) -> String {
        let resp = self
            .post(
                "/api/v1/org/projects",
                &self.admin.pat,
                json!({ "name": name }),
            )
            .await;
        resp.expect(201)["projectUuid"]
            .as_str()
            .expect("uuid")
            .to_string()
    }
}

impl TestApp {
    /// Puts the test organization on a plan, as the operator does.
    #[allow(dead_code)]
    pub async fn set_plan(&self, plan: &str) {
        self.set_plan_of(&self.org_uuid, plan).await
    }

    /// Puts any organization on a plan, as the operator does.
    #[allow(dead_code)]
    pub async fn set_plan_of(&self, org: &str, plan: &str) {
        let store = &self.server.as_ref().expect("running").store;
        let org_uuid: latchkey_core::OrgId = org.parse().expect("org uuid");
        let plan = latchkey_core::Plan::parse(plan).expect("a plan");
        let event = latchkey_core::AuditEvent {
            org_uuid,
            at: time::OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .unwrap(),
            action: latchkey_core::AuditAction::OrgPlanChanged,
            actor: None,
            credential: None,
            target: None,
            ip: None,
            user_agent: None,
            details: json!({ "plan": plan, "by": "test" }),
        };
        store
            .set_plan(org_uuid, plan, &event)
            .await
            .expect("set plan");
    }
}

/// An operator's hand on the database, behind the running server's back:
/// what no API call can do (move a stored time), for the behaviours that
/// hang on it.
impl TestApp {
    /// Runs one statement; the number of rows it touched.
    #[allow(dead_code)]
    pub async fn operator_sql(&self, statement: &str) -> u64 {
        use sqlx::Connection;
        let done = match self.backend {
            Backend::Sqlite => {
                let mut db = sqlx::SqliteConnection::connect(&self.sqlite_url())
                    .await
                    .expect("the SQLite file opens");
                sqlx::query(statement)
                    .execute(&mut db)
                    .await
                    .map(|r| r.rows_affected())
            }
            Backend::Postgres => {
                let mut db = sqlx::PgConnection::connect(&self.postgres_url())
                    .await
                    .expect("PostgreSQL connects");
                sqlx::query(statement)
                    .execute(&mut db)
                    .await
                    .map(|r| r.rows_affected())
            }
        };
        done.unwrap_or_else(|e| panic!("{statement}: {e}"))
    }

    /// Runs a query whose columns are all integers; its rows.
    #[allow(dead_code)]
    pub async fn operator_integers(&self, query: &str) -> Vec<Vec<i64>> {
        use sqlx::{Connection, Row};
        fn read<R: Row>(rows: Vec<R>) -> Vec<Vec<i64>>
        where
            for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
            usize: sqlx::ColumnIndex<R>,
        {
            rows.iter()
                .map(|row| (0..row.len()).map(|i| row.get::<i64, _>(i)).collect())
                .collect()
        }
        match self.backend {
            Backend::Sqlite => {
                let mut db = sqlx::SqliteConnection::connect(&self.sqlite_url())
                    .await
                    .expect("the SQLite file opens");
                read(sqlx::query(query).fetch_all(&mut db).await.expect(query))
            }
            Backend::Postgres => {
                let mut db = sqlx::PgConnection::connect(&self.postgres_url())
                    .await
                    .expect("PostgreSQL connects");
                read(sqlx::query(query).fetch_all(&mut db).await.expect(query))
            }
        }
    }

    #[allow(dead_code)]
    fn sqlite_url(&self) -> String {
        let file = self.dir.path().join("data").join("latchkey.db");
        format!("sqlite://{}", file.display())
    }

    /// The test database's URL, for a second process on it.
    #[allow(dead_code)]
    pub fn postgres_url_for_tests(&self) -> String {
        self.postgres_url()
    }

    #[allow(dead_code)]
    fn postgres_url(&self) -> String {
        self._pg
            .as_ref()
            .expect("a PostgreSQL database")
            .url
            .clone()
    }
}

impl Resp {
    /// `error.details.field` of an `invalid_request`.
    #[allow(dead_code)]
    pub fn field(&self) -> &str {
        self.body["error"]["details"]["field"]
            .as_str()
            .unwrap_or("")
    }
}

pub fn in_days(days: i64) -> String {
    in_duration(time::Duration::days(days))
}

/// `expiresAt` two seconds ahead, to the second.
#[allow(dead_code)]
pub fn in_two_seconds() -> String {
    in_duration(time::Duration::seconds(2))
}

fn in_duration(ahead: time::Duration) -> String {
    (time::OffsetDateTime::now_utc() + ahead)
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A credential made to expire two seconds from now: accepted (and cached)
/// while valid, then refused by the API and by verify as `token_expired`.
#[allow(dead_code)]
pub async fn expires_though_cached(app: &TestApp, token: &str, kind: &str) {
    let auth = Auth::Token(token.to_string());
    let verify = || {
        app.post(
            "/api/v1/auth/verify",
            &Auth::None,
            json!({ "token": token }),
        )
    };
    let me = app.get("/api/v1/user", &auth).await;
    assert_eq!(me.expect(200)["credential"]["kind"], kind);
    assert_eq!(verify().await.expect(200)["valid"], true);
    tokio::time::sleep(std::time::Duration::from_millis(2600)).await;
    app.get("/api/v1/user", &auth)
        .await
        .expect_error(401, "token_expired");
    let v = verify().await;
    let v = v.expect(200);
    assert_eq!(
        (v["valid"].clone(), v["code"].clone()),
        (json!(false), json!("token_expired"))
    );
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `Basic` client authentication: both parts form-encoded, then base64
/// (RFC 6749 §2.3.1).
pub fn basic(client_id: &str, secret: &str) -> String {
    use base64::Engine;
    let pair = format!("{}:{}", form_encode(client_id), form_encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// `token` with its last character changed (to one it is not), so that its
/// checksum no longer holds.
pub fn with_wrong_checksum(token: &str) -> String {
    let (head, last) = token.split_at(token.len() - 1);
    format!("{head}{}", if last == "x" { 'y' } else { 'x' })
}
