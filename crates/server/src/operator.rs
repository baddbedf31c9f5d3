//! Operator work on the database directly: opening it, the server key, the
//! first organization, plans. Used by `serve` at start and by the operator
//! commands on the server host.

use crate::config::{DatabaseConfig, ServeConfig};
use crate::passwords;
use latchkey_core::{
    limits, Actor, ActorKind, AuditEvent, CredentialKind, OrgId, Plan, Role, Target, TokenHash,
    TokenHasher, TokenKind, TokenSecret, UserId,
};
use latchkey_core::{
    AuditAction, ExposeSecret, InstanceAction, InstanceAuditEvent, SecretString, TargetKind,
};
use latchkey_store::{
    AccountReach, Credential, CredentialId, NewAdmin, Org, PoolSettings, ResourceServer, RoleRef,
    ServiceAccount, SqlStore, Store, StoreError, User,
};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

/// Why the server (or an operator command) could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("LATCHKEY_SECRET_KEY is required with PostgreSQL: every replica must hash tokens with the same key")]
    SecretKeyRequired,
    #[error("LATCHKEY_SECRET_KEY must be at least 32 bytes")]
    SecretKeyTooShort,
    #[error("cannot read or create the secret key file {0}: {1}")]
    SecretKeyFile(String, std::io::Error),
    #[error("cannot create the data directory {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("LATCHKEY_DATABASE_URL must start with postgres://, postgresql:// or sqlite://")]
    DatabaseUrl,
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("setup: {0}")]
    Setup(String),
    #[error("{0}")]
    Config(String),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

pub const SQLITE_FILE: &str = "latchkey.db";
pub const SECRET_KEY_FILE: &str = "secret.key";

fn create_private_dir(dir: &Path) -> Result<(), StartupError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| StartupError::DataDir(dir.display().to_string(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| StartupError::DataDir(dir.display().to_string(), e))?;
    }
    Ok(())
}

pub async fn open_store(db: &DatabaseConfig) -> Result<SqlStore, StartupError> {
    let settings = PoolSettings {
        max_connections: db.db_max_connections.max(1),
        acquire_timeout: Duration::from_secs(db.db_acquire_timeout_secs.max(1)),
    };
    match db.database_url.as_ref().map(|url| url.expose_secret()) {
        Some(url) if db.is_postgres() => Ok(SqlStore::open_postgres(url, &settings).await?),
        Some(url) => {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .ok_or(StartupError::DatabaseUrl)?;
            let path = Path::new(path.split('?').next().unwrap_or(path));
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                create_private_dir(parent)?;
            }
            Ok(SqlStore::open_sqlite(path, &settings).await?)
        }
        None => {
            create_private_dir(&db.data_dir)?;
            Ok(SqlStore::open_sqlite(&db.data_dir.join(SQLITE_FILE), &settings).await?)
        }
    }
}

/// The token-hash key: `LATCHKEY_SECRET_KEY`, or with SQLite a key generated
/// on first start into the data directory (mode 0600).
pub fn load_secret_key(config: &ServeConfig) -> Result<TokenHasher, StartupError> {
    load_key(config.secret_key.as_ref(), &config.database)
}

/// `load_secret_key` for an operator command, which hashes what it makes
/// with the key the server will check it with.
pub fn load_key(
    secret_key: Option<&SecretString>,
    database: &DatabaseConfig,
) -> Result<TokenHasher, StartupError> {
    let key = match secret_key {
        Some(key) => key.expose_secret().trim().to_string(),
        None if database.is_postgres() => return Err(StartupError::SecretKeyRequired),
        None => {
            create_private_dir(&database.data_dir)?;
            read_or_create_key_file(&database.data_dir.join(SECRET_KEY_FILE))?
        }
    };
    TokenHasher::new(key.as_bytes()).ok_or(StartupError::SecretKeyTooShort)
}

fn read_or_create_key_file(path: &Path) -> Result<String, StartupError> {
    let io = |e| StartupError::SecretKeyFile(path.display().to_string(), e);
    match std::fs::read_to_string(path) {
        Ok(key) => return Ok(key.trim().to_string()),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
        Err(_) => {}
    }
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let key = hex::encode(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(io)?;
    file.write_all(key.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(key)
}

#[derive(Debug, PartialEq, Eq)]
pub enum SetupOutcome {
    Created { org_uuid: OrgId },
    AlreadyExists { org_uuid: OrgId },
}

/// Creates an organization and its admin; does nothing if it exists.
pub async fn setup(
    store: &dyn Store,
    org_name: &str,
    email: &str,
    password: SecretString,
) -> Result<SetupOutcome, StartupError> {
    let org_name = limits::name("org", org_name, limits::MAX_NAME_CHARS)
        .map_err(|e| StartupError::Setup(e.to_string()))?;
    let email = limits::email("email", email).map_err(|e| StartupError::Setup(e.to_string()))?;
    limits::password("password", password.expose_secret())
        .map_err(|e| StartupError::Setup(e.to_string()))?;
    if let Some(org) = store.orgs_by_name(&org_name).await?.into_iter().next() {
        return Ok(SetupOutcome::AlreadyExists { org_uuid: org.uuid });
    }
    let at = now();
    let admin = match store.user_by_email(&email).await? {
        Some(login) => NewAdmin::Existing(login.user.uuid),
        None => NewAdmin::New {
            user: User {
                uuid: UserId::random(),
                email: email.clone().into(),
                name: None,
                created_at: at,
            },
            // One hash, by the operator: no queue needed.
            password_hash: tokio::task::spawn_blocking(move || {
                passwords::hash_blocking(password.expose_secret())
            })
            .await
            .map_err(|e| StartupError::Setup(e.to_string()))?
            .map_err(|e| StartupError::Setup(e.to_string()))?,
        },
    };
    let org = Org {
        uuid: OrgId::random(),
        name: org_name.into(),
        plan: Plan::Free,
        created_at: at,
    };
    let event = operator_event(&org, AuditAction::OrgCreated, at);
    store.create_org(&org, &admin, &event).await?;
    Ok(SetupOutcome::Created { org_uuid: org.uuid })
}

/// `latchkey org set-plan ORG free|enterprise`, ORG by uuid or name.
pub async fn set_plan(store: &dyn Store, org_ref: &str, plan: Plan) -> Result<Org, StartupError> {
    let org = match Uuid::parse_str(org_ref) {
        Ok(uuid) => store.org(uuid.into()).await?,
        Err(_) => {
            // Names need not be unique: a name that several organizations
            // share is refused, with their ids to choose from.
            let mut named = store.orgs_by_name(org_ref).await?;
            if named.len() > 1 {
                let ids: Vec<String> = named
                    .iter()
                    .map(|o| format!("{} (created {})", o.uuid, o.created_at.date()))
                    .collect();
                return Err(StartupError::Setup(format!(
                    "{} organizations are named `{org_ref}`; give one of their ids: {}",
                    named.len(),
                    ids.join(", ")
                )));
            }
            named.pop()
        }
    }
    .ok_or_else(|| StartupError::Setup(format!("no organization `{org_ref}`")))?;
    let mut event = operator_event(&org, AuditAction::OrgPlanChanged, now());
    event.details = serde_json::json!({ "previousPlan": org.plan, "plan": plan, "by": "operator" });
    store.set_plan(org.uuid, plan, &event).await?;
    Ok(Org { plan, ..org })
}

/// Checks `LATCHKEY_SETUP_SERVICE_ACCOUNT_TOKEN`: a well-formed `lksvc_` token.
pub fn setup_token(text: &str) -> Result<TokenSecret, StartupError> {
    let token = TokenSecret::from_well_formed(text.trim()).map_err(|e| {
        StartupError::Setup(format!(
            "LATCHKEY_SETUP_SERVICE_ACCOUNT_TOKEN is not a latchkey token ({e}): it must be `lksvc_` followed by 32 random base62 characters and a 6-character checksum, 44 characters in all"
        ))
    })?;
    if token.parsed().kind() != TokenKind::ServiceAccount {
        return Err(StartupError::Setup(
            "LATCHKEY_SETUP_SERVICE_ACCOUNT_TOKEN must be a service account token (prefix `lksvc_`)".into(),
        ));
    }
    Ok(token)
}

/// First start with a setup token: the organization goes on the enterprise
/// plan and the token becomes its admin service account.
pub async fn setup_service_account(
    store: &dyn Store,
    org_uuid: OrgId,
    token: &TokenSecret,
    hash: &TokenHash,
) -> Result<(), StartupError> {
    let org = store
        .org(org_uuid)
        .await?
        .ok_or_else(|| StartupError::Setup("the setup organization is gone".into()))?;
    let at = now();
    if org.plan != Plan::Enterprise {
        let mut event = operator_event(&org, AuditAction::OrgPlanChanged, at);
        event.details = serde_json::json!({ "previousPlan": org.plan, "plan": Plan::Enterprise, "by": "setup" });
        store.set_plan(org.uuid, Plan::Enterprise, &event).await?;
    }
    // Nobody made it through the API: it stands as its own creator.
    let uuid = CredentialId::random();
    let operator = Actor {
        kind: ActorKind::ServiceAccount,
        uuid: uuid.uuid(),
        name: "setup".into(),
    };
    let credential = Credential {
        uuid,
        kind: CredentialKind::ServiceAccount,
        org_uuid: org.uuid,
        owner_uuid: None,
        name: "setup".into(),
        display_prefix: token.display_prefix().to_string(),
        scopes: None,
        role: None,
        expires_at: None,
        created_at: at,
        rotated_at: None,
        last_used_at: None,
        revoked_at: None,
        created_by: operator,
    };
    let mut event = operator_event(&org, AuditAction::ServiceAccountCreated, at);
    event.target = Some(Target {
        kind: TargetKind::ServiceAccount,
        uuid: credential.uuid.uuid(),
        name: credential.name.clone(),
    });
    event.details = serde_json::json!({ "scope": "organization", "role": Role::Admin, "displayPrefix": credential.display_prefix, "by": "setup" });
    let account = ServiceAccount {
        credential,
        reach: AccountReach::Organization(RoleRef::System(Role::Admin)),
    };
    store.insert_service_account(&account, hash, &event).await?;
    Ok(())
}

/// Who the instance log names for an operator command.
const OPERATOR: &str = "operator";

fn instance_event(
    action: InstanceAction,
    server: &ResourceServer,
    at: OffsetDateTime,
) -> InstanceAuditEvent {
    InstanceAuditEvent {
        at,
        action,
        actor: OPERATOR.into(),
        target_uuid: server.uuid.into(),
        target_name: server.name.clone(),
        details: serde_json::json!({ "displayPrefix": server.display_prefix }),
    }
}

/// `latchkey resource-servers create NAME`: the server and its secret, which
/// exists only in this return value (the store keeps its keyed hash).
pub async fn create_resource_server(
    store: &dyn Store,
    hasher: &TokenHasher,
    name: &str,
) -> Result<(ResourceServer, TokenSecret), StartupError> {
    let name = limits::name("name", name, limits::MAX_NAME_CHARS)
        .map_err(|e| StartupError::Setup(e.to_string()))?;
    let secret = TokenSecret::generate(TokenKind::ResourceServer, &mut rand::rngs::OsRng);
    let at = now();
    let server = ResourceServer {
        uuid: CredentialId::random(),
        name: name.into(),
        display_prefix: secret.display_prefix().to_string(),
        created_at: at,
        revoked_at: None,
        last_used_at: None,
    };
    let event = instance_event(InstanceAction::ResourceServerCreated, &server, at);
    match store
        .create_resource_server(&server, &hasher.hash(secret.expose()), &event)
        .await
    {
        Err(StoreError::Conflict(_)) => Err(StartupError::Setup(format!(
            "a resource server named `{}` exists (names are compared without case)",
            server.name
        ))),
        other => other.map(|()| (server, secret)).map_err(Into::into),
    }
}

/// `latchkey resource-servers revoke ID|NAME`, a name among live ones.
pub async fn revoke_resource_server(
    store: &dyn Store,
    server_ref: &str,
) -> Result<ResourceServer, StartupError> {
    let servers = store.resource_servers().await?;
    let server = match Uuid::parse_str(server_ref) {
        Ok(uuid) => servers.into_iter().find(|s| s.uuid == uuid.into()),
        Err(_) => {
            let key = limits::name_key(server_ref.trim());
            servers
                .into_iter()
                .find(|s| s.revoked_at.is_none() && limits::name_key(&s.name) == key)
        }
    }
    .ok_or_else(|| StartupError::Setup(format!("no resource server `{server_ref}`")))?;
    if server.revoked_at.is_some() {
        return Err(StartupError::Setup(format!(
            "the resource server `{}` is revoked already",
            server.name
        )));
    }
    let at = now();
    let event = instance_event(InstanceAction::ResourceServerRevoked, &server, at);
    store
        .revoke_resource_server(server.uuid, at, &event)
        .await?;
    Ok(ResourceServer {
        revoked_at: Some(at),
        ..server
    })
}

fn operator_event(org: &Org, action: AuditAction, at: OffsetDateTime) -> AuditEvent {
    AuditEvent {
        org_uuid: org.uuid,
        at,
        action,
        actor: None,
        credential: None,
        target: Some(Target {
            kind: TargetKind::Org,
            uuid: org.uuid.into(),
            name: org.name.clone(),
        }),
        ip: None,
        user_agent: None,
        details: serde_json::json!({ "by": "operator" }),
    }
}

fn now() -> OffsetDateTime {
    crate::state::now()
}
