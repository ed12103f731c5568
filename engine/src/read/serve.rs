//! `ratel serve`: the read models over HTTP (JSON, CSV, PDF), an OpenAPI description, and the
//! self-care page. It follows the store as a RocksDB secondary instance, so it runs beside the
//! `ratel run` that writes it, and never writes itself.
//!
//! Access: every API request carries `Authorization: Bearer TOKEN`. An operator's token reads
//! everything; a subscriber's token reads only its own account and that account's numbers.
//! No token or an unknown one is 401; a subscriber asking for another account or number is 403,
//! whether or not it exists, so that a token cannot probe for numbers.

pub use crate::operations::http::{Limits, Role, Tokens};
use crate::query::{self, Context, QueryError, Scope, Who};
use crate::store::Store;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rating::request::{self, Format, MonthsParams, PeriodParams};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Requests served at once; more get 503 rather than a queue that grows without bound.
pub const MAX_IN_FLIGHT: usize = 256;
/// Threads that run queries (RocksDB reads, reports) at once; the other requests in flight wait
/// for one. Each thread keeps its own allocator heap and stack: at tokio's default of 512, a
/// burst of slow requests (PDF reports) grew the server by hundreds of megabytes.
pub const MAX_QUERY_THREADS: usize = 16;
/// How stale the follower may be: it catches up with the writer at most this often.
const CATCH_UP_EVERY: Duration = Duration::from_millis(100);
const PAGE: &str = include_str!("../../assets/self-care.html");
/// The OpenAPI description as written, with `{services}` where the services a detalization may
/// be filtered by go (`rating::request::SERVICES`), so that the description follows the code.
const OPENAPI_TEMPLATE: &str = include_str!("../../assets/openapi.json");

static OPENAPI: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    OPENAPI_TEMPLATE.replace("{services}", &rating::request::SERVICES.join(", "))
});

pub struct App {
    store: Store,
    tokens: Tokens,
    ctx: RwLock<Arc<Context>>,
    caught_up: Mutex<Instant>,
    slots: tokio::sync::Semaphore,
    /// PDF reports laid out at once: each holds its whole document in memory.
    pdf_slots: tokio::sync::Semaphore,
    /// Set when the server stops: work in flight (a PDF being laid out) ends early.
    stopping: Arc<std::sync::atomic::AtomicBool>,
}

/// PDF reports laid out at once; more wait for one of these (a client that leaves while
/// waiting gives its place up).
pub const MAX_PDF_RENDERS: usize = 2;
/// The most items a PDF report served over HTTP holds: a page of the PDF is some 60 items and
/// the document is laid out in memory (about 11 KB an item), so one report takes at most some
/// 110 MB. A longer period is asked for in parts (`from`/`to`), or as CSV or JSON.
pub const MAX_PDF_ITEMS: usize = 10_000;

/// Sets its flag when dropped: a request's future dropped (its client went away) stops the
/// work it started on a blocking thread.
struct StopOnDrop(Arc<std::sync::atomic::AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl App {
    pub fn new(store: Store, tokens: Tokens) -> Result<App, QueryError> {
        let ctx = Context::load(&store)?;
        Ok(App {
            store,
            tokens,
            ctx: RwLock::new(Arc::new(ctx)),
            caught_up: Mutex::new(Instant::now()),
            slots: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            pdf_slots: tokio::sync::Semaphore::new(MAX_PDF_RENDERS),
            stopping: Arc::new(std::sync::atomic::AtomicBool::new(false)),
        })
    }

    /// Follows the writer, and reloads the catalog when another came into force.
    fn fresh(&self) -> Result<Arc<Context>, QueryError> {
        {
            let mut last = self.caught_up.lock().expect("not poisoned");
            if last.elapsed() >= CATCH_UP_EVERY {
                let _ = self.store.catch_up();
                *last = Instant::now();
            }
        }
        let tag = self.store.meta_u64(crate::keys::CATALOG_IN_FORCE)?;
        let now =
            rating::Timestamp(self.store.meta_u64(crate::keys::WATERMARK)?.unwrap_or(0) as i64);
        let cur = self.ctx.read().expect("not poisoned").clone();
        if tag == Some(cur.cat.tag()) {
            if cur.now == now {
                return Ok(cur);
            }
            let next = Arc::new(Context {
                cat: cur.cat.clone(),
                now,
            });
            *self.ctx.write().expect("not poisoned") = next.clone();
            return Ok(next);
        }
        let next = Arc::new(Context::load(&self.store)?);
        *self.ctx.write().expect("not poisoned") = next.clone();
        Ok(next)
    }
}

/// An API failure as the client sees it: a status and `{"error": "..."}`.
struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<QueryError> for Failure {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::NotFound(_) => Failure(StatusCode::NOT_FOUND, e.to_string()),
            QueryError::Bad(_) => Failure(StatusCode::BAD_REQUEST, e.to_string()),
            QueryError::Engine(e) => {
                tracing::error!(error = %e, "query failed");
                Failure(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
            }
        }
    }
}

fn unauthorized() -> Failure {
    Failure(
        StatusCode::UNAUTHORIZED,
        "a valid bearer token is required".into(),
    )
}

fn forbidden() -> Failure {
    Failure(StatusCode::FORBIDDEN, "not yours to read".into())
}

/// What a request asks to read.
enum Subject {
    Account(String),
    /// A number's present: its balance and packages, the holder's alone.
    Number(String),
    /// A number's history (detalization, spending): each account that held it reads what
    /// happened while it did.
    NumberHistory(String),
}

impl Role {
    fn scope(&self) -> Scope<'_> {
        match self {
            Role::Operator => Scope::Everything,
            Role::Subscriber { account } => Scope::Account(account),
        }
    }
}

/// Whether a subscriber of `account` may read `subject`. A number it never held is refused
/// like one that does not exist, so that a token cannot probe for numbers.
fn may_read(store: &Store, account: &str, subject: &Subject) -> Result<bool, QueryError> {
    let number = |text: &str| rating::Msisdn::parse(text).ok();
    Ok(match subject {
        Subject::Account(a) => a == account,
        Subject::Number(m) => match number(m) {
            Some(m) => projections::models::account_of(store.db(), m)?.as_deref() == Some(account),
            None => false,
        },
        Subject::NumberHistory(m) => match number(m) {
            Some(m) => projections::models::holders(store.db(), m)?
                .iter()
                .any(|h| h.account == account),
            None => false,
        },
    })
}

/// Authorises a request, checks that what it names exists (for the operator: a subscriber has
/// had its 403 by then), then runs `f` with the id and the caller's scope on a blocking thread
/// with a fresh context.
async fn guarded<T: Send + 'static>(
    app: Arc<App>,
    headers: &HeaderMap,
    subject: Subject,
    query: impl FnOnce(&App, &Context, &str, Scope) -> Result<T, QueryError> + Send + 'static,
) -> Result<T, Failure> {
    let role = app.tokens.role(headers).cloned().ok_or_else(unauthorized)?;
    let Ok(_slot) = app.slots.try_acquire() else {
        return Err(Failure(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many requests in flight".into(),
        ));
    };
    let app = app.clone(); // the slot above borrows the caller's handle
    tokio::task::spawn_blocking(move || -> Result<Result<T, Failure>, QueryError> {
        let ctx = app.fresh()?;
        let store = &app.store;
        if let Role::Subscriber { account } = &role {
            if !may_read(store, account, &subject)? {
                return Ok(Err(forbidden()));
            }
        }
        let scope = role.scope();
        let id = match &subject {
            Subject::Account(a) => {
                if store.account(a)?.is_none() {
                    return Err(QueryError::NotFound(a.clone()));
                }
                a
            }
            Subject::Number(m) => {
                query::number(store, m)?;
                m
            }
            Subject::NumberHistory(m) => {
                query::holdings(store, m, scope)?;
                m
            }
        };
        Ok(Ok(query(&app, &ctx, id, scope)?))
    })
    .await
    .map_err(|e| Failure(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
    .map_err(Failure::from)?
}

/// A number named by a route (checked to exist by [`guarded`]).
fn number(text: &str) -> Result<Who<'static>, QueryError> {
    Ok(Who::Number(
        rating::Msisdn::parse(text).map_err(QueryError::Bad)?,
    ))
}

/// A guarded query answered as JSON.
async fn json<T: serde::Serialize + Send + 'static>(
    app: Arc<App>,
    headers: &HeaderMap,
    subject: Subject,
    query: impl FnOnce(&App, &Context, &str, Scope) -> Result<T, QueryError> + Send + 'static,
) -> Result<Response, Failure> {
    Ok(Json(guarded(app, headers, subject, query).await?).into_response())
}

/// A request's query string decoded with [`request::decode`] (bounded, unknown parameters
/// refused): a bad one is a 400 that says what is wrong.
fn params<T: serde::de::DeserializeOwned>(raw: Option<String>) -> Result<T, Failure> {
    request::decode(raw.as_deref().unwrap_or("")).map_err(|e| Failure(StatusCode::BAD_REQUEST, e))
}

async fn account_balance(
    State(app): State<Arc<App>>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    json(
        app,
        &headers,
        Subject::Account(account),
        |app, ctx, a, _| query::balance_of(&app.store, ctx, Who::Account(a)),
    )
    .await
}

async fn number_balance(
    State(app): State<Arc<App>>,
    Path(msisdn): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    json(app, &headers, Subject::Number(msisdn), |app, ctx, m, _| {
        query::balance_of(&app.store, ctx, number(m)?)
    })
    .await
}

async fn packages(
    State(app): State<Arc<App>>,
    Path(msisdn): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    json(app, &headers, Subject::Number(msisdn), |app, ctx, m, _| {
        query::packages(&app.store, ctx, m)
    })
    .await
}

async fn account_spending(
    State(app): State<Arc<App>>,
    Path(account): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let p: MonthsParams = params(raw)?;
    json(
        app,
        &headers,
        Subject::Account(account),
        move |app, ctx, a, scope| {
            let who = Who::Account(a);
            let months = (p.from.as_deref(), p.to.as_deref());
            query::spending_of(&app.store, ctx, who, months, scope)
        },
    )
    .await
}

async fn group_spending(
    State(app): State<Arc<App>>,
    Path((account, group)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let p: MonthsParams = params(raw)?;
    json(
        app,
        &headers,
        Subject::Account(account),
        move |app, ctx, a, scope| {
            let who = Who::Group(a, &group);
            let months = (p.from.as_deref(), p.to.as_deref());
            query::spending_of(&app.store, ctx, who, months, scope)
        },
    )
    .await
}

async fn number_spending(
    State(app): State<Arc<App>>,
    Path(msisdn): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let p: MonthsParams = params(raw)?;
    json(
        app,
        &headers,
        Subject::NumberHistory(msisdn),
        move |app, ctx, m, scope| {
            let who = number(m)?;
            let months = (p.from.as_deref(), p.to.as_deref());
            query::spending_of(&app.store, ctx, who, months, scope)
        },
    )
    .await
}

async fn detalization(
    State(app): State<Arc<App>>,
    Path(msisdn): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    detalization_of(app, Subject::NumberHistory(msisdn), raw, headers).await
}

/// All the numbers of an account: a corporate client's detalization.
async fn account_detalization(
    State(app): State<Arc<App>>,
    Path(account): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    detalization_of(app, Subject::Account(account), raw, headers).await
}

/// A detalization of a number (its history) or of an account, in the format asked for.
async fn detalization_of(
    app: Arc<App>,
    subject: Subject,
    raw: Option<String>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let p: PeriodParams = params(raw)?;
    let bad = |e| Failure(StatusCode::BAD_REQUEST, e);
    let format = p.format().map_err(bad)?;
    let services = p.services().map_err(bad)?;
    let whose = match &subject {
        Subject::Account(id) | Subject::Number(id) | Subject::NumberHistory(id) => id,
    };
    // The file's name from the id, with only characters no header or shell reads specially.
    let whose: String = whose
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    let name = format!("detalization-{whose}.{}", format.extension());
    if app.tokens.role(&headers).is_none() {
        return Err(unauthorized());
    }
    let account_wide = matches!(subject, Subject::Account(_));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let _stop_when_dropped = StopOnDrop(stop.clone());
    let pdf_app = app.clone();
    let _pdf_slot = match format {
        Format::Pdf => Some(pdf_app.pdf_slots.acquire().await.map_err(|_| {
            Failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server is stopping".into(),
            )
        })?),
        _ => None,
    };
    let bytes = guarded(app, &headers, subject, move |app, ctx, id, scope| {
        let period = p.period(&ctx.cat, ctx.now).map_err(QueryError::Bad)?;
        let r = if account_wide {
            query::account_detalization(&app.store, ctx, id, period, &services)?
        } else {
            query::detalization(&app.store, ctx, id, period, &services, scope)?
        };
        Ok(match format {
            Format::Csv => projections::export::csv(&r),
            Format::Pdf => pdf(app, &r, &stop)?,
            Format::Json => projections::export::json(&r),
        })
    })
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// A detalization as a PDF, within [`MAX_PDF_ITEMS`], laid out until `stop` is set or the
/// server stops.
fn pdf(
    app: &App,
    report: &projections::export::Report,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<Vec<u8>, QueryError> {
    use std::sync::atomic::Ordering::Relaxed;
    if report.rows.len() > MAX_PDF_ITEMS {
        return Err(QueryError::Bad(format!(
            "{} items: a PDF holds at most {MAX_PDF_ITEMS}; ask for a shorter period (from, to) \
             or for CSV or JSON",
            report.rows.len()
        )));
    }
    let stopped = || stop.load(Relaxed) || app.stopping.load(Relaxed);
    tracing::info!(msisdn = %report.msisdn, items = report.rows.len(), "PDF report: laying it out");
    projections::pdf::render_until(report, &stopped).map_err(|e| {
        if let projections::pdf::PdfError::Stopped { after } = e {
            tracing::info!(
                msisdn = %report.msisdn,
                after,
                items = report.rows.len(),
                "PDF report stopped: its client went away or the server is stopping"
            );
        }
        QueryError::Bad(e.to_string())
    })
}

/// The API's routes, each described in assets/openapi.json (a test holds the two together).
pub const ROUTES: [&str; 8] = [
    "/api/v1/accounts/{account}/balance",
    "/api/v1/accounts/{account}/spending",
    "/api/v1/accounts/{account}/groups/{group}/spending",
    "/api/v1/numbers/{msisdn}/balance",
    "/api/v1/numbers/{msisdn}/packages",
    "/api/v1/numbers/{msisdn}/detalization",
    "/api/v1/numbers/{msisdn}/spending",
    "/api/v1/accounts/{account}/detalization",
];

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route(ROUTES[0], get(account_balance))
        .route(ROUTES[1], get(account_spending))
        .route(ROUTES[2], get(group_spending))
        .route(ROUTES[3], get(number_balance))
        .route(ROUTES[4], get(packages))
        .route(ROUTES[5], get(detalization))
        .route(ROUTES[6], get(number_spending))
        .route(ROUTES[7], get(account_detalization))
        .route(
            "/openapi.json",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    OPENAPI.as_str(),
                )
            }),
        )
        .route("/self-care", get(|| async { Html(PAGE) }))
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/metrics",
            get(|State(app): State<Arc<App>>| async move {
                app.store.record_figures();
                crate::operations::endpoint::metrics().await
            }),
        )
        .with_state(app)
        .layer(axum::middleware::from_fn(
            crate::operations::endpoint::measured,
        ))
}

pub fn openapi() -> &'static str {
    OPENAPI.as_str()
}

/// Resolves at Ctrl-C or SIGTERM.
async fn stop_signal() {
    let term = async {
        #[cfg(unix)]
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
            return;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}

/// Serves until Ctrl-C or SIGTERM (see [`Limits`]); then stops accepting, lets requests in
/// flight finish for [`Limits::grace`], and returns.
pub async fn serve(
    app: Arc<App>,
    listen: std::net::SocketAddr,
    limits: Limits,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    tracing::info!(%listen, "serving");
    eprintln!(
        "ratel serve: listening on http://{}",
        listener.local_addr()?
    );
    let stopping = app.stopping.clone();
    let connections =
        crate::operations::http::connections(listener, router(app), limits, stop_signal());
    connections.await;
    stopping.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}
