//! Configuration: every flag has a `LATCHKEY_*` environment twin, defaults
//! work on a fresh machine, and `Debug` never prints a secret (they are
//! `SecretString`s).

use clap::Args;
use ipnet::IpNet;
use latchkey_core::secret::{secret_arg, ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the data lives; shared by `serve` and the operator commands.
#[derive(Args, Clone, Debug)]
pub struct DatabaseConfig {
    /// Directory for the SQLite file and the generated server key.
    #[arg(long, env = "LATCHKEY_DATA_DIR", default_value = "./latchkey-data")]
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL; SQLite in the data directory when unset.
    /// (A secret: it may hold the database password.)
    #[arg(long, env = "LATCHKEY_DATABASE_URL", hide_env_values = true, value_parser = secret_arg)]
    pub database_url: Option<SecretString>,
    /// Most database connections this process opens.
    #[arg(long, env = "LATCHKEY_DB_MAX_CONNECTIONS", default_value_t = 8)]
    pub db_max_connections: u32,
    /// Seconds to wait for a database connection before answering 503.
    #[arg(long, env = "LATCHKEY_DB_ACQUIRE_TIMEOUT_SECS", default_value_t = 5)]
    pub db_acquire_timeout_secs: u64,
}

impl DatabaseConfig {
    pub fn is_postgres(&self) -> bool {
        self.database_url
            .as_ref()
            .map(|u| u.expose_secret())
            .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
    }
}

/// The database and the server key, for operator commands that make a
/// secret: it is hashed with the key the server checks it with.
#[derive(Args, Clone, Debug)]
pub struct KeyedDatabaseConfig {
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// The server's token-hash key (with SQLite, the key file in the data
    /// directory when unset).
    #[arg(long, env = "LATCHKEY_SECRET_KEY", hide_env_values = true, value_parser = secret_arg)]
    pub secret_key: Option<SecretString>,
}

#[derive(Args, Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "LATCHKEY_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// The address clients reach this server at (`iss` of token
    /// introspection); `http://<bind>` when unset.
    #[arg(long, env = "LATCHKEY_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
    #[command(flatten)]
    pub database: DatabaseConfig,
    /// Key of the token hash (at least 32 bytes). Required with PostgreSQL;
    /// with SQLite one is generated into the data directory when unset.
    #[arg(long, env = "LATCHKEY_SECRET_KEY", hide_env_values = true, value_parser = secret_arg)]
    pub secret_key: Option<SecretString>,
    /// How often recorded `lastUsedAt` times are written to the database.
    #[arg(long, env = "LATCHKEY_LAST_USED_FLUSH_SECS", default_value_t = 30)]
    pub last_used_flush_secs: u64,
    /// Credentials kept resolved in memory (0 turns the cache off).
    #[arg(long, env = "LATCHKEY_AUTH_CACHE_CAPACITY", default_value_t = 100_000)]
    pub auth_cache_capacity: usize,
    /// Seconds a cached credential is trusted before it is read again, as a
    /// safety net: changes invalidate it at once anyway.
    #[arg(long, env = "LATCHKEY_AUTH_CACHE_TTL_SECS", default_value_t = 30)]
    pub auth_cache_ttl_secs: u64,
    /// Mark the session cookie `Secure` (set it when served over HTTPS).
    #[arg(long, env = "LATCHKEY_SECURE_COOKIES", default_value_t = false)]
    pub secure_cookies: bool,
    /// First start: name of the organization to create.
    #[arg(long, env = "LATCHKEY_SETUP_ORG_NAME", hide = true)]
    pub setup_org_name: Option<String>,
    /// First start: email of that organization's admin.
    #[arg(long, env = "LATCHKEY_SETUP_ADMIN_EMAIL", hide = true)]
    pub setup_admin_email: Option<String>,
    /// First start: that admin's password.
    #[arg(
        long,
        env = "LATCHKEY_SETUP_ADMIN_PASSWORD",
        hide = true,
        hide_env_values = true,
        value_parser = secret_arg
    )]
    pub setup_admin_password: Option<SecretString>,
    /// First start: a `lksvc_` token that becomes an admin service account of
    /// the setup organization (which then goes on the enterprise plan).
    #[arg(
        long,
        env = "LATCHKEY_SETUP_SERVICE_ACCOUNT_TOKEN",
        hide = true,
        hide_env_values = true,
        value_parser = secret_arg
    )]
    pub setup_service_account_token: Option<SecretString>,
    /// Service accounts on this instance (`false` answers `403 feature_disabled`).
    #[arg(long, env = "LATCHKEY_SERVICE_ACCOUNTS_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub service_accounts_enabled: bool,
    /// Proxies trusted to name the client (comma-separated CIDRs, none by
    /// default): only a request whose socket peer is inside them has its
    /// client address taken from `X-Forwarded-For` / `Forwarded`.
    #[arg(long, env = "LATCHKEY_TRUSTED_PROXIES", value_name = "CIDRS", value_delimiter = ',', value_parser = parse_trusted_proxy)]
    pub trusted_proxies: Vec<IpNet>,
    /// A TOML file with operator-defined scopes (`[[scopes]]`) and forward-auth
    /// rules (`[[forward_auth.rules]]`); a bad one stops the server, saying why.
    #[arg(long, env = "LATCHKEY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Passwords hashed at once (each argon2 hash holds 19 MiB); default:
    /// the number of cores.
    #[arg(long, env = "LATCHKEY_PASSWORD_HASH_CONCURRENCY")]
    pub password_hash_concurrency: Option<usize>,
    /// Milliseconds a sign-in or invite waits for its turn to hash before
    /// answering `503`.
    #[arg(long, env = "LATCHKEY_PASSWORD_HASH_WAIT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub password_hash_wait_ms: u64,
    /// Seconds a client has to send a request's headers (from connecting,
    /// or from the first byte of a later request) before it is disconnected.
    #[arg(long, env = "LATCHKEY_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub header_read_timeout_secs: u64,
    /// Seconds an idle connection is kept open between requests.
    #[arg(long, env = "LATCHKEY_KEEP_ALIVE_TIMEOUT_SECS", default_value_t = 75, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub keep_alive_timeout_secs: u64,
    /// Most client connections served at once; default and ceiling: the
    /// file-descriptor limit less room for the database and files.
    #[arg(long, env = "LATCHKEY_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Who creates organizations: any signed-in user (`POST /api/v1/orgs`),
    /// or only the operator on the server host.
    #[arg(
        long,
        env = "LATCHKEY_ORG_CREATION",
        value_enum,
        default_value = "anyone"
    )]
    pub org_creation: OrgCreation,
}

/// `LATCHKEY_ORG_CREATION`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgCreation {
    Anyone,
    Operator,
}

impl ServeConfig {
    /// A configuration for tests and embedding: SQLite in `data_dir`, port 0.
    pub fn for_data_dir(data_dir: PathBuf) -> ServeConfig {
        ServeConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: None,
            database: DatabaseConfig {
                data_dir,
                database_url: None,
                db_max_connections: 8,
                db_acquire_timeout_secs: 5,
            },
            secret_key: None,
            last_used_flush_secs: 30,
            auth_cache_capacity: 100_000,
            auth_cache_ttl_secs: 30,
            secure_cookies: false,
            setup_org_name: None,
            setup_admin_email: None,
            setup_admin_password: None,
            setup_service_account_token: None,
            service_accounts_enabled: true,
            trusted_proxies: Vec::new(),
            config: None,
            org_creation: OrgCreation::Anyone,
            password_hash_concurrency: None,
            password_hash_wait_ms: 5000,
            header_read_timeout_secs: 10,
            keep_alive_timeout_secs: 75,
            max_connections: None,
        }
    }
}

/// `--public-url`: an absolute http(s) URL, kept without a trailing slash.
fn parse_public_url(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/');
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| format!("{text:?} must start with https:// or http://"))?;
    if rest.is_empty() || rest.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{text:?} is not a URL"));
    }
    Ok(text.to_string())
}

/// One `--trusted-proxies` entry: a CIDR (`10.0.0.0/8`, `fd00::/8`) or a
/// single address. A bad one stops the server, naming it.
fn parse_trusted_proxy(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(
            "an empty entry (leave LATCHKEY_TRUSTED_PROXIES unset to trust no proxy)".into(),
        );
    }
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| {
            format!("{text:?} is not a CIDR (like 10.0.0.0/8 or fd00::/8) or an IP address")
        })
}

/// The operator's configuration file (`--config`): its sections as written.
/// Every table refuses keys it does not know, so a misspelt one stops the
/// server instead of being ignored.
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub scopes: Vec<ScopeEntry>,
    #[serde(default)]
    pub forward_auth: ForwardAuthConfig,
}

#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ScopeEntry {
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// `[forward_auth]`: what `/auth/forward` requires of a request by its
/// method and path (API.md, "Forward authentication for reverse proxies").
#[derive(serde::Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct ForwardAuthConfig {
    #[serde(default)]
    pub rules: Vec<ForwardRuleEntry>,
}

/// `[[forward_auth.rules]]`: `methods` (absent: any), `path`, `scope`.
#[derive(serde::Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ForwardRuleEntry {
    pub methods: Option<Vec<String>>,
    pub path: String,
    pub scope: String,
}

/// The configuration file, checked: the scope catalog (built-in scopes plus
/// the file's) and the forward-auth rules (whose scopes are the catalog's).
#[derive(Debug, Default)]
pub struct ServerFile {
    pub catalog: latchkey_core::ScopeCatalog,
    pub forward_rules: latchkey_core::forward::Rules,
}

/// Reads and checks the configuration file; no file is the defaults. A bad
/// file says which file, and where in it.
pub fn load_file(path: Option<&std::path::Path>) -> Result<ServerFile, String> {
    let Some(path) = path else {
        return Ok(ServerFile::default());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the configuration file {}: {e}", path.display()))?;
    let file: FileConfig = toml::from_str(&text).map_err(|e| {
        format!(
            "the configuration file {} is not valid: {e}",
            path.display()
        )
    })?;
    let catalog = latchkey_core::ScopeCatalog::with_custom(
        file.scopes.into_iter().map(|s| (s.name, s.description)),
    )
    .map_err(|e| format!("the configuration file {}: {e}", path.display()))?;
    let rules = file
        .forward_auth
        .rules
        .iter()
        .enumerate()
        .map(|(i, r)| {
            latchkey_core::forward::Rule::new(
                r.methods.as_deref(),
                &r.path,
                &r.scope,
                catalog.parse(&r.scope),
            )
            .map_err(|e| {
                format!(
                    "the configuration file {}: forward_auth.rules[{i}].{}: {}",
                    path.display(),
                    e.field,
                    e.message
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ServerFile {
        catalog,
        forward_rules: latchkey_core::forward::Rules::new(rules),
    })
}

/// The scope catalog: the built-in scopes plus the configuration file's.
pub fn load_catalog(path: Option<&std::path::Path>) -> Result<latchkey_core::ScopeCatalog, String> {
    load_file(path).map(|file| file.catalog)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        serve: ServeConfig,
    }

    #[test]
    fn the_public_url_is_an_http_url_kept_without_its_trailing_slash() {
        let parsed = Serve::try_parse_from(["serve", "--public-url", "https://auth.example.com/"])
            .expect("parses");
        assert_eq!(
            parsed.serve.public_url.as_deref(),
            Some("https://auth.example.com")
        );
        assert_eq!(
            Serve::try_parse_from(["serve"]).unwrap().serve.public_url,
            None
        );
        for bad in ["auth.example.com", "ftp://x", "https://", "http://a b"] {
            assert!(
                Serve::try_parse_from(["serve", "--public-url", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn trusted_proxies_are_cidrs_or_addresses_and_a_bad_one_says_why() {
        let parsed = Serve::try_parse_from([
            "serve",
            "--trusted-proxies",
            "10.0.0.0/8, 192.168.1.7,fd00::/8",
        ])
        .expect("parses");
        let shown: Vec<String> = parsed
            .serve
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(shown, ["10.0.0.0/8", "192.168.1.7/32", "fd00::/8"]);
        assert!(Serve::try_parse_from(["serve"])
            .expect("parses")
            .serve
            .trusted_proxies
            .is_empty());
        let Err(bad) = Serve::try_parse_from(["serve", "--trusted-proxies", "10.0.0.0/33"]) else {
            panic!("a prefix longer than 32 bits is refused");
        };
        assert!(
            bad.to_string().contains("\"10.0.0.0/33\" is not a CIDR"),
            "{bad}"
        );
        assert!(Serve::try_parse_from(["serve", "--trusted-proxies", "10.0.0.0/8,"]).is_err());
    }
}
