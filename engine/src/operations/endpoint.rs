//! The HTTP endpoint beside `ratel run`: `/metrics` (Prometheus text), `/healthz` (alive) and
//! `/readyz` (ready, or 503 with the reason). One thread of its own, so that a busy engine
//! never delays a scrape and a slow scraper never delays the engine. Also the measuring layer
//! every ratel HTTP server puts in front of its routes.

use axum::extract::{MatchedPath, Request};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::time::Instant;

/// Binds `listen` (an error now, before any work, if it is taken) and serves the endpoint on a
/// thread of its own for the life of the process. Returns the address bound.
pub fn start(listen: std::net::SocketAddr) -> std::io::Result<std::net::SocketAddr> {
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let bound = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("ratel-metrics".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => return tracing::error!(error = %e, "metrics endpoint"),
                };
                if let Err(e) = axum::serve(listener, router()).await {
                    tracing::error!(error = %e, "metrics endpoint");
                }
            });
        })?;
    Ok(bound)
}

/// The routes of the endpoint; `ratel serve` mounts `/metrics` and `/healthz` among its own.
pub fn router() -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .layer(axum::middleware::from_fn(measured))
}

/// The Prometheus text format of every metric.
pub async fn metrics() -> Response {
    let text = tokio::task::spawn_blocking(crate::operations::metrics::render)
        .await
        .unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

async fn ready() -> Response {
    match crate::operations::health::readiness() {
        Ok(()) => "ready".into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

/// Counts each request by its route (the pattern, never the path: a path holds numbers and
/// account ids) and status, and times it.
pub async fn measured(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!(crate::operations::metrics::HTTP_SECONDS, "route" => route.clone())
        .record(started.elapsed());
    metrics::counter!(crate::operations::metrics::HTTP_REQUESTS, "route" => route, "status" => status)
        .increment(1);
    response
}
