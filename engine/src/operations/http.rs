//! HTTP as ratel serves it: bearer tokens (stored as digests) and their roles, and the accept
//! loop with limits on connections, on slow headers, on a connection's age and on the grace a
//! stop gives. `ratel serve` and `ratel online --http` serve their routers through it.

use axum::http::{header, HeaderMap};
use axum::Router;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Who a token belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Operator,
    Subscriber { account: String },
}

/// The tokens file (TOML): `[[tokens]]` with `token` and either `role = "operator"` or
/// `account = "ID"`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    tokens: Vec<TokenEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    token: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    account: Option<String>,
}

/// Tokens by their SHA-256: a lookup compares digests, never the secret itself.
#[derive(Default)]
pub struct Tokens(HashMap<[u8; 32], Role>);

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl Tokens {
    pub fn parse(text: &str) -> Result<Tokens, String> {
        let f: TokensFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut t = Tokens::default();
        for (i, e) in f.tokens.into_iter().enumerate() {
            if e.token.len() < 16 {
                return Err(format!("token {}: shorter than 16 characters", i + 1));
            }
            let role = match (e.role.as_deref(), e.account) {
                (Some("operator"), None) => Role::Operator,
                (None | Some("subscriber"), Some(account)) => Role::Subscriber { account },
                _ => {
                    return Err(format!(
                        "token {}: give role = \"operator\" or an account",
                        i + 1
                    ))
                }
            };
            if t.0.insert(digest(&e.token), role).is_some() {
                return Err(format!("token {}: the same token twice", i + 1));
            }
        }
        Ok(t)
    }

    pub fn insert(&mut self, token: &str, role: Role) {
        self.0.insert(digest(token), role);
    }

    pub fn role(&self, headers: &HeaderMap) -> Option<&Role> {
        let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
        let token = v.strip_prefix("Bearer ")?.trim();
        self.0.get(&digest(token))
    }
}

/// Accepts connections until `stop`, each served by hyper with the header and age limits, at
/// most `limits.connections` at once (one more is closed as soon as it is accepted); then asks
/// each to finish its request and close, and waits for them at most `limits.grace`.
pub async fn connections(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: Limits,
    stop: impl std::future::Future<Output = ()>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.connections));
    let (closing, _) = tokio::sync::watch::channel(false);
    let mut open = tokio::task::JoinSet::new();
    tokio::pin!(stop);
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors, say: wait a little rather than spin.
                    tracing::warn!(error = %e, "accept");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while open.try_join_next().is_some() {}
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream); // closed at once: the server is at its limit of connections
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let mut closing = closing.subscribe();
        open.spawn(async move {
            let _slot = slot;
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header);
            let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::pin!(conn);
            let age = tokio::time::sleep(limits.age);
            tokio::pin!(age);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = &mut age => {} // a client that never reads its answer: dropped
                _ = closing.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(limits.grace, conn).await;
                }
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    let _ = tokio::time::timeout(limits.grace, async {
        while open.join_next().await.is_some() {}
    })
    .await;
}

/// What `ratel serve` allows a client.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once.
    pub connections: usize,
    /// How long a client may take to send a request's headers, and may keep a connection idle
    /// between requests: a slow or silent client is closed after it.
    pub header: Duration,
    /// The longest a connection lives, whatever it does (a client that never reads its answer).
    pub age: Duration,
    /// After a stop signal, how long requests in flight may finish.
    pub grace: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            connections: 512,
            header: Duration::from_secs(10),
            age: Duration::from_secs(300),
            grace: Duration::from_secs(3),
        }
    }
}
