//! Vigil's web dashboard, REST API and incident reports, served from the embedded store.
//!
//! Security model, in one place ([`guard`]): every route is declared in [`routes`] with the
//! least role that may use it; a middleware resolves the caller (session cookie or Bearer API
//! token), refuses anyone unauthenticated or below the route's role, checks the CSRF token of
//! every state-changing request made with a session, and sets strict security headers on every
//! response. HTML is built with [`html!`], which escapes every interpolated value.

pub mod auth;
#[macro_use]
pub mod html;
mod api;
mod charts;
mod pages;
pub mod report;
pub mod stix;
mod tls;

use axum::Router;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{MethodRouter, get, post};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use vigil_store::auth::User;
use vigil_store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing: {0}")]
    Crypto(String),
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("TLS: {0}")]
    Tls(String),
    #[error("listening on {addr}: {source}")]
    Listen { addr: SocketAddr, source: std::io::Error },
}

/// Least privilege a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Access {
    /// Login page and static assets only.
    Public,
    Viewer,
    Analyst,
    Admin,
}

impl Access {
    fn of_role(role: &str) -> Access {
        match role {
            "admin" => Access::Admin,
            "analyst" => Access::Analyst,
            _ => Access::Viewer,
        }
    }
}

/// One route: method, path (axum syntax, as in the OpenAPI file) and the least role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}

const fn r(method: &'static str, path: &'static str, access: Access) -> RouteSpec {
    RouteSpec { method, path, access }
}

/// Every route the server answers. The router is built from this list, so a route cannot exist
/// without a declared access level.
pub const ROUTES: &[RouteSpec] = &[
    r("GET", "/login", Access::Public),
    r("POST", "/login", Access::Public),
    r("GET", "/static/app.css", Access::Public),
    r("GET", "/static/app.js", Access::Public),
    r("POST", "/logout", Access::Viewer),
    r("GET", "/", Access::Viewer),
    r("GET", "/findings", Access::Viewer),
    r("GET", "/findings/{id}", Access::Viewer),
    r("POST", "/findings/{id}/triage", Access::Analyst),
    r("GET", "/findings/{id}/report.html", Access::Viewer),
    r("GET", "/findings/{id}/stix", Access::Viewer),
    r("GET", "/hosts", Access::Viewer),
    r("GET", "/hosts/{ip}", Access::Viewer),
    r("GET", "/exposure", Access::Viewer),
    r("GET", "/audit", Access::Admin),
    r("GET", "/api/me", Access::Viewer),
    r("GET", "/api/overview", Access::Viewer),
    r("GET", "/api/findings", Access::Viewer),
    r("GET", "/api/findings/{id}", Access::Viewer),
    r("POST", "/api/findings/{id}/triage", Access::Analyst),
    r("GET", "/api/findings/{id}/stix", Access::Viewer),
    r("GET", "/api/hosts", Access::Viewer),
    r("GET", "/api/hosts/{ip}", Access::Viewer),
    r("GET", "/api/audit", Access::Admin),
    r("GET", "/api/openapi.json", Access::Viewer),
];

fn handler_for(spec: &RouteSpec) -> MethodRouter<AppState> {
    match (spec.method, spec.path) {
        ("GET", "/login") => get(pages::login_form),
        ("POST", "/login") => post(pages::login),
        ("GET", "/static/app.css") => get(pages::css),
        ("GET", "/static/app.js") => get(pages::js),
        ("POST", "/logout") => post(pages::logout),
        ("GET", "/") => get(pages::overview),
        ("GET", "/findings") => get(pages::findings),
        ("GET", "/findings/{id}") => get(pages::finding),
        ("POST", "/findings/{id}/triage") => post(pages::triage),
        ("GET", "/findings/{id}/report.html") => get(pages::report_html),
        ("GET", "/findings/{id}/stix") => get(api::stix),
        ("GET", "/hosts") => get(pages::hosts),
        ("GET", "/hosts/{ip}") => get(pages::host),
        ("GET", "/exposure") => get(pages::exposure),
        ("GET", "/audit") => get(pages::audit),
        ("GET", "/api/me") => get(api::me),
        ("GET", "/api/overview") => get(api::overview),
        ("GET", "/api/findings") => get(api::findings),
        ("GET", "/api/findings/{id}") => get(api::finding),
        ("POST", "/api/findings/{id}/triage") => post(api::triage),
        ("GET", "/api/findings/{id}/stix") => get(api::stix),
        ("GET", "/api/hosts") => get(api::hosts),
        ("GET", "/api/hosts/{ip}") => get(api::host),
        ("GET", "/api/audit") => get(api::audit),
        ("GET", "/api/openapi.json") => get(api::openapi),
        // Every entry of ROUTES has an arm above; a missing one is caught by the tests.
        _ => get(|| async { StatusCode::NOT_FOUND }),
    }
}

/// Shared state of the server.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    store: Mutex<Store>,
    secure_cookies: bool,
    throttle: auth::Throttle,
    session_ttl_s: i64,
    /// The overview and the host list are costly to compute over many findings and a large
    /// inventory, and read far more often than the store changes: kept until the change mark moves.
    overview_cache: Mutex<Option<(String, Arc<vigil_store::query::Overview>)>>,
    hosts_cache: Mutex<Option<(String, Arc<Vec<pages::HostRow>>)>>,
}

/// Error of a request: a status and a short message (never the internals).
#[derive(Debug)]
pub struct AppError(pub StatusCode, pub String);

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError(StatusCode::INTERNAL_SERVER_ERROR, format!("store: {e}"))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.1}).to_string();
        (self.0, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

impl AppState {
    /// State over an opened store. `secure_cookies` when served over TLS.
    pub fn new(store: Store, secure_cookies: bool) -> AppState {
        AppState(Arc::new(Inner {
            store: Mutex::new(store),
            secure_cookies,
            throttle: auth::Throttle::default(),
            session_ttl_s: 12 * 3600,
            overview_cache: Mutex::new(None),
            hosts_cache: Mutex::new(None),
        }))
    }

    /// Runs store work off the async workers.
    pub async fn db<T: Send + 'static>(&self, f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static) -> Result<T, AppError> {
        let st = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut s = st.0.store.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut s)
        })
        .await
        .map_err(|_| AppError(StatusCode::INTERNAL_SERVER_ERROR, "worker failed".into()))?
        .map_err(AppError::from)
    }

    /// The overview aggregates, recomputed only when the store changed.
    pub async fn overview(&self) -> Result<Arc<vigil_store::query::Overview>, AppError> {
        let st = self.clone();
        self.db(move |s| {
            let mark = s.change_mark()?;
            let mut cache = st.0.overview_cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((m, o)) = cache.as_ref()
                && *m == mark
            {
                return Ok(o.clone());
            }
            let o = Arc::new(s.overview(15)?);
            *cache = Some((mark, o.clone()));
            Ok(o)
        })
        .await
    }

    /// Cached host rows under a change mark, if still current.
    fn hosts_cached(&self, mark: &str) -> Option<Arc<Vec<pages::HostRow>>> {
        let c = self.0.hosts_cache.lock().unwrap_or_else(|p| p.into_inner());
        c.as_ref().filter(|(m, _)| m == mark).map(|(_, v)| v.clone())
    }

    fn hosts_store(&self, mark: String, rows: Arc<Vec<pages::HostRow>>) {
        *self.0.hosts_cache.lock().unwrap_or_else(|p| p.into_inner()) = Some((mark, rows));
    }

    fn session_cookie_name(&self) -> &'static str {
        // The __Host- prefix pins the cookie to this origin and to Secure; only possible on TLS.
        if self.0.secure_cookies { "__Host-vigil_session" } else { "vigil_session" }
    }

    fn cookie_attrs(&self) -> &'static str {
        if self.0.secure_cookies { "; Path=/; HttpOnly; SameSite=Strict; Secure" } else { "; Path=/; HttpOnly; SameSite=Strict" }
    }
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// Set for cookie sessions (its CSRF token); `None` for API tokens.
    pub csrf: Option<String>,
    pub session_hash: Option<String>,
}

impl Principal {
    pub fn can(&self, need: Access) -> bool {
        Access::of_role(&self.user.role) >= need
    }
}

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The value of a cookie in the request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn refuse(path: &str, status: StatusCode, msg: &str) -> Response {
    if path.starts_with("/api/") || status != StatusCode::UNAUTHORIZED {
        AppError(status, msg.to_string()).into_response()
    } else {
        Redirect::to("/login").into_response()
    }
}

/// Largest request body accepted (forms and JSON triage; notes are bounded by it).
pub const MAX_BODY: usize = 256 * 1024;

/// The guard every route passes through; see the crate documentation.
async fn guard(State(st): State<AppState>, matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let path = matched.as_ref().map(|m| m.as_str().to_string()).unwrap_or_default();
    let method = req.method().clone();
    let need = ROUTES.iter().find(|r| r.path == path && r.method == method.as_str()).map(|r| r.access).unwrap_or(Access::Viewer);
    let mut resp = if need == Access::Public { next.run(req).await } else { authorised(st, &path, need, req, next).await };
    let h = resp.headers_mut();
    let csp = if path.ends_with("/report.html") {
        // The report is one self-contained file: inline styles, no script at all.
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    } else {
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    };
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if need != Access::Public {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

async fn authorised(st: AppState, path: &str, need: Access, req: Request, next: Next) -> Response {
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| auth::token_hash(t.trim()));
    let session = cookie(req.headers(), st.session_cookie_name()).map(auth::token_hash);
    let principal = match (bearer, session) {
        (Some(h), _) => {
            st.db(move |s| s.api_token_user(&h)).await.map(|u| u.map(|user| Principal { user, csrf: None, session_hash: None }))
        }
        (None, Some(h)) => {
            let now = now_s();
            st.db(move |s| Ok(s.session(&h, now)?.map(|se| Principal { user: se.user, csrf: Some(se.csrf), session_hash: Some(h) }))).await
        }
        (None, None) => Ok(None),
    };
    let principal = match principal {
        Ok(Some(p)) => p,
        Ok(None) => return refuse(path, StatusCode::UNAUTHORIZED, "authentication required"),
        Err(e) => return e.into_response(),
    };
    if !principal.can(need) {
        return refuse(path, StatusCode::FORBIDDEN, "your role does not allow this");
    }
    let mut req = req;
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state {
        // Browsers attach the cookie to cross-site requests; the per-session token, which a
        // foreign page cannot read, proves the request came from our own page.
        if let Some(expected) = principal.csrf.clone() {
            let (parts, body) = req.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
                return AppError(StatusCode::PAYLOAD_TOO_LARGE, "request too large".into()).into_response();
            };
            let from_header = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok()).map(str::to_string);
            let is_form = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
            let from_form = if is_form { form_field(&bytes, "csrf") } else { None };
            let ok = from_header.or(from_form).is_some_and(|t| auth::ct_eq(&t, &expected));
            if !ok {
                return AppError(StatusCode::FORBIDDEN, "missing or wrong CSRF token".into()).into_response();
            }
            req = Request::from_parts(parts, Body::from(bytes));
        }
    }
    req.extensions_mut().insert(principal);
    next.run(req).await
}

/// One field of an urlencoded form.
pub(crate) fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The application: every route of [`ROUTES`] behind the guard.
pub fn app(state: AppState) -> Router {
    let mut router: Router<AppState> = Router::new();
    for spec in ROUTES {
        router = router.route(spec.path, handler_for(spec));
    }
    router
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

/// How to serve.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
}

/// Opens the store, binds, calls `ready` with the bound address, and serves until Ctrl-C.
/// Runs its own Tokio runtime with two workers.
pub fn serve(cfg: &ServeConfig, ready: impl FnOnce(SocketAddr, bool)) -> Result<(), WebError> {
    let store = Store::open(&cfg.data_dir)?;
    let tls = match (&cfg.tls_cert, &cfg.tls_key) {
        (Some(c), Some(k)) => Some(tls::acceptor(c, k)?),
        (None, None) => None,
        _ => return Err(WebError::Tls("--tls-cert and --tls-key go together".into())),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .map_err(|source| WebError::Io { what: "starting the runtime", path: PathBuf::new(), source })?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|source| WebError::Listen { addr: cfg.listen, source })?;
        let addr = listener.local_addr().map_err(|source| WebError::Listen { addr: cfg.listen, source })?;
        let state = AppState::new(store, tls.is_some());
        ready(addr, tls.is_some());
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        run_server(listener, state, tls, shutdown).await
    })
}

/// The TLS acceptor for a PEM certificate chain and key.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, WebError> {
    tls::acceptor(cert, key)
}

/// Serves the application on a bound listener (HTTPS when `tls` is given) until `shutdown`.
pub async fn run_server(
    listener: tokio::net::TcpListener,
    state: AppState,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), WebError> {
    let addr = listener.local_addr().map_err(|source| WebError::Listen { addr: ([0, 0, 0, 0], 0).into(), source })?;
    match tls {
        Some(acc) => tls::serve_tls(listener, acc, app(state), shutdown).await,
        None => {
            axum::serve(listener, app(state)).with_graceful_shutdown(shutdown).await.map_err(|source| WebError::Listen { addr, source })
        }
    }
}

/// Adds or updates an account (`vigil user add`). Returns false for an unknown role.
pub fn add_user(data_dir: &Path, name: &str, role: &str, password: &str) -> Result<bool, WebError> {
    let hash = auth::hash_password(password)?;
    let mut s = Store::open(data_dir)?;
    let ok = s.upsert_user(name, role, &hash)?.is_some();
    if ok {
        s.audit("cli", "user.add", name, &format!("role={role}"))?;
    }
    Ok(ok)
}

/// Issues a new API token for an account (`vigil user token`); `None` when there is no such
/// account. The token is returned once; only its hash is stored.
pub fn issue_token(data_dir: &Path, name: &str, label: &str) -> Result<Option<String>, WebError> {
    let mut s = Store::open(data_dir)?;
    let Some(u) = s.user_by_name(name)? else { return Ok(None) };
    let token = auth::new_api_token();
    s.create_api_token(u.id, &auth::token_hash(&token), label)?;
    s.audit("cli", "token.issue", name, label)?;
    Ok(Some(token))
}
