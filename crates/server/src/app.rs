//! The router, and starting and stopping the server.

use crate::api::introspect;
use crate::api::{
    account, api_keys, audit, catalog, forward, identity, members, ops, pats, projects, roles,
    service_accounts, session, verify,
};
use crate::cache::AuthCache;
use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::forwarded::{ClientAddr, TrustedProxies};
use crate::last_used::LastUsed;
use crate::operator::{self, SetupOutcome, StartupError};
use crate::passwords::PasswordQueue;
use crate::rate_limit::{LocalThrottle, SignInThrottle, INTROSPECT_CLIENT_ADDRESS, VERIFY_ADDRESS};
use crate::refusals::RefusalLog;
use crate::state::{AppState, Inner};
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::Router;
use latchkey_core::{limits, ExposeSecret};
use latchkey_store::{ReplicaChange, Store};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "latchkey", description = "Credentials for multi-tenant software: personal access tokens, API keys, service accounts.\n\nEvery success body is `{\"status\": \"ok\", \"results\": <the schema shown>}`; every failure is `{\"status\": \"error\", \"error\": {statusCode, code, message, details?}}`. Authenticate with `Authorization: ApiKey <token>` or `Bearer <token>`, or the `latchkey_session` cookie plus `X-CSRF-Token` on changes."),
    tags((name = "session"), (name = "account"), (name = "identity"), (name = "members"), (name = "projects"), (name = "roles"), (name = "personal access tokens"), (name = "api keys"), (name = "service accounts"), (name = "audit"), (name = "verification"), (name = "forward auth"), (name = "operations"))
)]
struct ApiDoc;

/// `/auth/forward` answers any method on any path below it, which
/// `routes!` (one method per annotation) cannot route: it is routed with
/// `any` and documented from its annotation here.
#[derive(OpenApi)]
#[openapi(paths(forward::forward))]
struct ForwardDoc;

/// Every route: the JSON API with its OpenAPI document, the web pages, and
/// the layers every request passes through.
pub fn router(state: AppState) -> Router {
    let (api, openapi) = api_router(state.clone());
    let scopes = state.catalog.names(state.catalog.all());
    let openapi = Arc::new(crate::openapi::finish(openapi, &scopes));
    // The web pages call the API in process, beneath these layers: one
    // request from the browser is one request in the logs and metrics.
    let web = crate::web::routes(state.clone(), api.clone());
    let routes = api
        .merge(web)
        .route(
            "/api/v1/openapi.json",
            get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed });
    // The one place the client's address is decided, when proxies are
    // trusted; without any, it is the socket peer (`auth::client_of`), and
    // no request pays for this layer.
    let routes = if state.trusted_proxies.is_empty() {
        routes
    } else {
        routes.layer(axum::middleware::map_request_with_state(
            state.clone(),
            |axum::extract::State(state): axum::extract::State<AppState>,
             mut request: Request| async move {
                let peer = request
                    .extensions()
                    .get::<axum::extract::ConnectInfo<SocketAddr>>()
                    .map(|c| c.0.ip());
                if let Some(peer) = peer {
                    let client = state.trusted_proxies.client(peer, request.headers());
                    request.extensions_mut().insert(ClientAddr(client));
                }
                request
            },
        ))
    };
    routes
        .layer(axum::middleware::map_response_with_state(
            state,
            |axum::extract::State(state): axum::extract::State<AppState>,
             response: axum::response::Response| async move {
                state.metrics.response(response.status().as_u16());
                response
            },
        ))
        .layer(DefaultBodyLimit::max(limits::MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::internal("a handler panicked").into_response()
        }))
        .layer(
            // The span names the route template, never the raw path: an
            // invite code is part of its path.
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let route = req
                    .extensions()
                    .get::<MatchedPath>()
                    .map(MatchedPath::as_str)
                    .unwrap_or("unmatched");
                let request_id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("");
                tracing::info_span!("request", method = %req.method(), route, request_id)
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The JSON API's routes with their state, and the OpenAPI document gathered
/// from the handlers.
fn api_router(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(session::login))
        .routes(routes!(session::logout))
        .routes(routes!(session::set_active_org))
        .routes(routes!(account::change_password))
        .routes(routes!(account::list_sessions, account::end_other_sessions))
        .routes(routes!(account::end_session))
        .routes(routes!(session::accept_invite))
        .routes(routes!(identity::current_user))
        .routes(routes!(identity::current_org))
        .routes(routes!(identity::list_orgs, identity::create_org))
        .routes(routes!(members::list, members::add))
        .routes(routes!(members::update, members::remove))
        .routes(routes!(members::reissue_invite))
        .routes(routes!(members::withdraw_invite))
        .routes(routes!(projects::list, projects::create))
        .routes(routes!(projects::get, projects::rename, projects::delete))
        .routes(routes!(projects::access))
        .routes(routes!(projects::grant, projects::revoke))
        .routes(routes!(catalog::scopes))
        .routes(routes!(catalog::roles, roles::create))
        .routes(routes!(roles::get, roles::update, roles::delete))
        .routes(routes!(service_accounts::list, service_accounts::create))
        .routes(routes!(
            service_accounts::get,
            service_accounts::update,
            service_accounts::delete
        ))
        .routes(routes!(service_accounts::rotate))
        .routes(routes!(pats::list, pats::create))
        .routes(routes!(pats::get, pats::update, pats::revoke))
        .routes(routes!(pats::rotate))
        .routes(routes!(pats::admin_list))
        .routes(routes!(pats::admin_revoke))
        .routes(routes!(api_keys::list, api_keys::create))
        .routes(routes!(api_keys::update, api_keys::revoke))
        .routes(routes!(api_keys::rotate))
        .routes(routes!(audit::list))
        .routes(routes!(verify::verify))
        .routes(routes!(introspect::introspect))
        .routes(routes!(ops::healthz))
        .routes(routes!(ops::readyz))
        .routes(routes!(ops::metrics))
        .route(forward::PATH, any(forward::forward))
        .route("/auth/forward/", any(forward::forward))
        .route("/auth/forward/{*rest}", any(forward::forward))
        .split_for_parts();
    let mut openapi = openapi;
    openapi.merge(ForwardDoc::openapi());
    (router.with_state(state), openapi)
}

/// Every cache kept current by organization epochs, told of each change.
#[derive(Clone)]
struct Caches(
    Arc<AuthCache<latchkey_core::TokenHash, crate::auth::Resolved>>,
    Arc<AuthCache<(latchkey_core::OrgId, latchkey_core::ProjectId), bool>>,
    Arc<AuthCache<latchkey_core::TokenHash, crate::resource_server::CachedClient>>,
);

impl Caches {
    fn heard(&self, change: ReplicaChange) {
        match change {
            ReplicaChange::Org(org) => {
                self.0.invalidate_org(org);
                self.1.invalidate_org(org);
                self.2.invalidate_org(org);
            }
            ReplicaChange::Lost => {
                self.0.distrust();
                self.1.distrust();
                self.2.distrust();
            }
            ReplicaChange::Resumed => {
                self.0.trust_again();
                self.1.trust_again();
                self.2.trust_again();
            }
        }
    }
}

/// A server listening on its socket.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

impl RunningServer {
    /// Graceful stop: finish requests, write pending `lastUsedAt`, close the pool.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }

    /// Resolves when the server stops by itself.
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

/// Opens the database, runs first-start setup, binds, and serves in the background.
pub async fn start(config: ServeConfig) -> Result<RunningServer, StartupError> {
    let crate::config::ServerFile {
        catalog,
        forward_rules,
    } = crate::config::load_file(config.config.as_deref()).map_err(StartupError::Config)?;
    let hasher = operator::load_secret_key(&config)?;
    let mut sql_store = operator::open_store(&config.database).await?;
    let cache = Arc::new(AuthCache::new(
        config.auth_cache_capacity,
        Duration::from_secs(config.auth_cache_ttl_secs.max(1)),
    ));
    let project_exists = Arc::new(AuthCache::new(
        config.auth_cache_capacity,
        Duration::from_secs(config.auth_cache_ttl_secs.max(1)),
    ));
    let resource_servers = Arc::new(AuthCache::new(
        config.auth_cache_capacity,
        Duration::from_secs(config.auth_cache_ttl_secs.max(1)),
    ));
    // Changes committed here invalidate this replica's caches synchronously;
    // changes committed by other replicas arrive through the watcher.
    let caches = Caches(
        cache.clone(),
        project_exists.clone(),
        resource_servers.clone(),
    );
    let on_commit = caches.clone();
    sql_store.set_change_hook(Arc::new(move |org| {
        on_commit.heard(ReplicaChange::Org(org))
    }));
    let watcher = sql_store.watch_other_replicas(move |change| caches.heard(change));
    let store: Arc<dyn Store> = Arc::new(sql_store.clone());
    first_start(store.as_ref(), &config, &hasher).await?;
    crate::passwords::return_hash_memory_to_the_system();
    let metrics = crate::metrics::Metrics::default();
    let passwords = PasswordQueue::new(
        config
            .password_hash_concurrency
            .unwrap_or_else(PasswordQueue::default_concurrency),
        Duration::from_millis(config.password_hash_wait_ms),
        &metrics,
    );
    // Before binding and before the cap is derived from the limit.
    let fd_limit = crate::listener::raise_fd_limit();
    let limits = crate::listener::Limits {
        header_read_timeout: Duration::from_secs(config.header_read_timeout_secs.max(1)),
        keep_alive_timeout: Duration::from_secs(config.keep_alive_timeout_secs.max(1)),
        max_connections: crate::listener::connection_cap(
            config.max_connections,
            fd_limit,
            config.database.db_max_connections.max(1),
        ),
    };
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| StartupError::Bind(config.bind, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartupError::Bind(config.bind, e))?;
    let state = AppState::new(Inner {
        store: store.clone(),
        cache,
        project_exists,
        resource_servers,
        metrics,
        passwords,
        hasher,
        catalog,
        forward_rules,
        last_used: LastUsed::default(),
        sign_in: SignInThrottle::default(),
        verify_failures: LocalThrottle::new(VERIFY_ADDRESS),
        introspect_failures: LocalThrottle::new(INTROSPECT_CLIENT_ADDRESS),
        // The bound address, once known (port 0 picks one).
        issuer: config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}")),
        refusals: RefusalLog::new(REFUSALS_COLLAPSED_FOR),
        trusted_proxies: TrustedProxies::new(&config.trusted_proxies),
        secure_cookies: config.secure_cookies,
        service_accounts_enabled: config.service_accounts_enabled,
        org_creation: config.org_creation,
    });
    let (tx, rx) = oneshot::channel::<()>();
    let app = router(state.clone());
    let flush_every = Duration::from_secs(config.last_used_flush_secs.max(1));
    // Background work stops between rounds, never inside one: a round
    // holds summaries and `lastUsedAt` times taken out of memory but not
    // yet written.
    let (stop, stopped) = watch::channel(false);
    let housekeeper = tokio::spawn(housekeeping(state.clone(), stopped.clone()));
    let task = tokio::spawn(async move {
        let flusher = {
            let state = state.clone();
            let mut stopped = stopped;
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(flush_every);
                loop {
                    tokio::select! {
                        _ = tick.tick() => {}
                        _ = stopped.changed() => return,
                    }
                    state.last_used.flush(state.store.as_ref()).await;
                }
            })
        };
        crate::listener::serve(listener, app, limits, async {
            let _ = rx.await;
        })
        .await;
        let _ = stop.send(true);
        let _ = flusher.await;
        let _ = housekeeper.await;
        if let Some(watcher) = watcher {
            watcher.abort();
        }
        state.last_used.flush(state.store.as_ref()).await;
        write_refusals(&state, true).await;
        sql_store.close().await;
    });
    let backend = if config.database.is_postgres() {
        "postgres"
    } else {
        "sqlite"
    };
    tracing::info!(
        %addr,
        backend,
        max_connections = limits.max_connections,
        "latchkey listening"
    );
    Ok(RunningServer {
        addr,
        store,
        shutdown: Some(tx),
        task,
    })
}

/// How long refusals of one credential and code are collapsed into one
/// `auth.refused` event (see `refusals.rs`).
const REFUSALS_COLLAPSED_FOR: time::Duration = time::Duration::minutes(1);

/// Every second: the refusal summaries that are due; every ten minutes:
/// throttle windows that may be forgotten.
async fn housekeeping(state: AppState, mut stopped: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    for n in 0u64.. {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        write_refusals(&state, false).await;
        if n % 600 == 0 {
            if let Err(error) = state.store.throttle_purge(crate::state::now()).await {
                tracing::warn!(%error, "could not purge throttle windows");
            }
        }
    }
}

/// Writes the refusal summaries that are due (all of them at shutdown).
async fn write_refusals(state: &AppState, all: bool) {
    for event in state.refusals.due(crate::state::now(), all) {
        if let Err(error) = state.store.append_audit(&event).await {
            tracing::warn!(%error, "could not record refused credentials");
        }
    }
}

/// `latchkey serve`: runs until Ctrl-C or SIGTERM.
pub async fn serve(config: ServeConfig) -> Result<(), StartupError> {
    let server = start(config).await?;
    shutdown_signal().await;
    tracing::info!("shutting down");
    server.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// On a first start with an empty database, the `LATCHKEY_SETUP_*` variables
/// create the first organization and its admin.
async fn first_start(
    store: &dyn Store,
    config: &ServeConfig,
    hasher: &latchkey_core::TokenHasher,
) -> Result<(), StartupError> {
    let given = [
        config.setup_org_name.is_some(),
        config.setup_admin_email.is_some(),
        config.setup_admin_password.is_some(),
    ];
    // A malformed setup token stops the server whatever the database holds.
    let setup_token = config
        .setup_service_account_token
        .as_ref()
        .map(|token| operator::setup_token(token.expose_secret()))
        .transpose()?;
    if given.iter().all(|given| !given) || !store.is_empty().await? {
        if setup_token.is_some() && given.iter().all(|given| !given) {
            return Err(StartupError::Setup(
                "LATCHKEY_SETUP_SERVICE_ACCOUNT_TOKEN needs LATCHKEY_SETUP_ORG_NAME, LATCHKEY_SETUP_ADMIN_EMAIL and LATCHKEY_SETUP_ADMIN_PASSWORD".into(),
            ));
        }
        return Ok(());
    }
    let (Some(org), Some(email), Some(password)) = (
        &config.setup_org_name,
        &config.setup_admin_email,
        &config.setup_admin_password,
    ) else {
        return Err(StartupError::Setup(
            "LATCHKEY_SETUP_ORG_NAME, LATCHKEY_SETUP_ADMIN_EMAIL and LATCHKEY_SETUP_ADMIN_PASSWORD go together".into(),
        ));
    };
    if let SetupOutcome::Created { org_uuid } =
        operator::setup(store, org, email, password.clone()).await?
    {
        tracing::info!(%org_uuid, "created the first organization and its admin");
        if let Some(token) = setup_token {
            let hash = hasher.hash(token.expose());
            operator::setup_service_account(store, org_uuid, &token, &hash).await?;
            tracing::info!(%org_uuid, "the setup token is an admin service account; the organization is on the enterprise plan");
        }
    }
    Ok(())
}
