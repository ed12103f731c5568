//! Online charging (`ratel online`): a Diameter credit-control server (RFC 6733, RFC 4006,
//! 3GPP Ro/Gy) whose requests the engine decides as inputs of its own log, through the same
//! pipeline as offline inputs. One process owns the store: one writer, no split brain.
//!
//! The connections run on a tokio runtime; the decider, a thread of its own, owns the engine
//! and commits the requests that came together with one synced write before any is answered.

mod answers;
mod avps;
mod clock;
mod credit_control;
mod decider;
mod enquiry;
mod http;
mod meter;
mod offline;
mod peer;
mod refund;
mod route;

pub use avps::*;
pub use credit_control::{read_request, result_of, session_requests, Refusal, Request, Verdict};
pub use decider::MAX_GROUP;
pub use http::{MAX_BODY_BYTES, OPENAPI, ROUTES};
pub use offline::{Membership, Offline};

use crate::pipeline::{Engine, EngineError};
use std::net::SocketAddr;
use std::sync::Arc;

/// Where and as whom `ratel online` serves.
pub struct Options {
    pub diameter: SocketAddr,
    /// Origin-Host and Origin-Realm of every answer.
    pub origin_host: String,
    pub origin_realm: String,
    /// The Diameter URI other instances redirect to this one (with a Kafka source); by default
    /// `aaa://ORIGIN-HOST:PORT;transport=tcp`.
    pub advertise: Option<String>,
    /// The HTTP JSON equivalent, if served: where, and the tokens (operators' only) it takes.
    pub http: Option<(SocketAddr, crate::operations::http::Tokens)>,
    /// Offline inputs rated by the same engine between online requests.
    pub offline: Option<Offline>,
}

/// The most peers connected at once; more wait to be accepted.
pub const MAX_PEERS: usize = 256;
/// Credit-control requests queued for the decider; more wait in their peers.
pub const MAX_QUEUED_JOBS: usize = 8_192;

/// Serves until SIGTERM or SIGINT, or until a write fails (its error is returned). Prints the
/// address it listens on first.
pub fn serve(engine: &mut Engine, options: Options) -> Result<(), EngineError> {
    let (jobs, queue) = std::sync::mpsc::sync_channel(MAX_QUEUED_JOBS);
    let context = Arc::new(answers::Context {
        origin_host: options.origin_host,
        origin_realm: options.origin_realm,
        online: engine.cat.online.clone(),
        currency: engine.cat.currency.clone(),
        jobs: jobs.clone(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind(options.diameter))?;
    let http = match options.http {
        Some((listen, tokens)) => {
            let listener = runtime.block_on(tokio::net::TcpListener::bind(listen))?;
            println!("http listening on {}", listener.local_addr()?);
            let online = engine.cat.online.clone();
            let context = Arc::new(http::Context {
                tokens,
                online,
                jobs: jobs.clone(),
            });
            Some((listener, http::router(context)))
        }
        None => None,
    };
    // The decider ends when the last sender is gone: the connections' and the routes' only.
    drop(jobs);
    let bound = listener.local_addr()?;
    let mut offline = options.offline;
    if let Some(offline) = &mut offline {
        let uri = (options.advertise).unwrap_or_else(|| {
            format!(
                "aaa://{}:{};transport=tcp",
                context.origin_host,
                bound.port()
            )
        });
        let host = context.origin_host.clone();
        offline.identify(crate::directory::Owner { host, uri })?;
    }
    println!("diameter listening on {bound}");
    // A member of a consumer group is ready once its partitions are caught up (kafka::watch).
    if !offline
        .as_ref()
        .is_some_and(offline::Offline::shares_partitions)
    {
        crate::operations::health::ready();
    }
    std::thread::scope(|scope| {
        let decider = scope.spawn(move || decider::decide(engine, &queue, offline));
        runtime.block_on(async {
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let http = http.map(|(listener, router)| {
                let limits = crate::operations::http::Limits::default();
                let mut stopped = stopped.clone();
                let stop = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                let serving = crate::operations::http::connections(listener, router, limits, stop);
                tokio::spawn(serving)
            });
            accept(listener, context, || decider.is_finished()).await;
            let _ = stop.send(true);
            if let Some(serving) = http {
                let _ = serving.await;
            }
        });
        // The connections end with the runtime, and with them the last sender of jobs: the
        // decider lands what it holds and returns.
        runtime.shutdown_timeout(std::time::Duration::from_secs(1));
        decider.join().expect("the decider does not panic")
    })
}

async fn accept(
    listener: tokio::net::TcpListener,
    context: Arc<answers::Context>,
    decider_ended: impl Fn() -> bool,
) {
    let peers = Arc::new(tokio::sync::Semaphore::new(MAX_PEERS));
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let Ok(permit) = peers.clone().acquire_owned().await else { break };
                let _ = stream.set_nodelay(true);
                let context = context.clone();
                tokio::spawn(async move {
                    peer::serve(stream, context).await;
                    drop(permit);
                });
            }
            _ = tick.tick() => {
                if crate::operations::shutdown::requested() || decider_ended() {
                    break;
                }
            }
        }
    }
}
