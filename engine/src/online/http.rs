//! Online charging over HTTP and JSON, for systems without Diameter: a session begun, updated
//! and ended, a one-off charge and its refund, and the usage a number can afford now. Only an operator's token
//! may use it. A request is read into the same credit-control request a CCR is read into,
//! decided by the same decider and answered once durable; its answer says what the CCA's
//! Result-Code says, as an HTTP status and a JSON body.

use super::avps::*;
use super::credit_control::{
    refund_input, session_requests, verdict_code, Asked, Refusal, Request, Verdict,
};
use super::decider::{answered, decided, refunded, Answer, Question, Work};
use super::meter;
use crate::operations::http::{Role, Tokens};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use rating::catalog::Online;
use rating::charge_reference::ChargeReference;
use rating::event::SessionRequest;
use rating::{Msisdn, Service, Timestamp};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// The largest request body read: a request is a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 4 * 1024;

/// What the routes share.
pub struct Context {
    pub tokens: Tokens,
    pub online: Online,
    pub jobs: std::sync::mpsc::SyncSender<Work>,
}

/// The API's routes, each described in the OpenAPI document (`/openapi.json`).
pub const ROUTES: [&str; 6] = [
    "/api/v1/sessions",
    "/api/v1/sessions/{session}/update",
    "/api/v1/sessions/{session}/terminate",
    "/api/v1/events/charge",
    "/api/v1/numbers/{msisdn}/max-usage",
    "/api/v1/events/refund",
];

/// The OpenAPI document of the routes.
pub const OPENAPI: &str = include_str!("../../assets/online-openapi.json");

pub fn router(context: Arc<Context>) -> Router {
    Router::new()
        .route(ROUTES[0], post(begin))
        .route(ROUTES[1], post(update))
        .route(ROUTES[2], post(terminate))
        .route(ROUTES[3], post(charge))
        .route(ROUTES[4], get(max_usage))
        .route(ROUTES[5], post(refund))
        .route(
            "/openapi.json",
            get(|| async {
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    OPENAPI,
                )
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .with_state(context)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(
            crate::operations::endpoint::measured,
        ))
}

/// A request's body. `session` names the session a first request opens (later ones name it in
/// the path), `id` a one-off charge; `request` numbers a session's later requests from 1, as
/// CC-Request-Number does; `time` is the event's time (RFC 3339), else the arrival's.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    #[serde(default)]
    session: Option<String>,
    #[serde(default)]
    id: Option<String>,
    number: String,
    service: Service,
    #[serde(default)]
    other: Option<String>,
    #[serde(default)]
    rating_group: Option<u32>,
    #[serde(default)]
    request: Option<u32>,
    #[serde(default)]
    requested: Option<u64>,
    #[serde(default)]
    used: u64,
    #[serde(default)]
    time: Option<String>,
    /// A refund's charge: the `refund_information` of its charge's answer.
    #[serde(default)]
    refund_information: Option<String>,
}

/// A request's body as read: JSON, or why not.
type JsonBody = Result<Json<Body>, axum::extract::rejection::JsonRejection>;

/// A reply: a status and a JSON body.
type Reply = (StatusCode, Json<Value>);

fn refused(refusal: &Refusal) -> Reply {
    let body = json!({"error": error_name(refusal.code), "result_code": refusal.code,
                      "message": refusal.why});
    (status_of(refusal.code), Json(body))
}

fn bad(why: impl Into<String>) -> Reply {
    refused(&Refusal {
        code: INVALID_AVP_VALUE,
        why: why.into(),
    })
}

/// The HTTP status of a Result-Code.
fn status_of(code: u32) -> StatusCode {
    match code {
        SUCCESS => StatusCode::OK,
        CREDIT_LIMIT_REACHED => StatusCode::PAYMENT_REQUIRED,
        END_USER_SERVICE_DENIED => StatusCode::FORBIDDEN,
        USER_UNKNOWN | UNKNOWN_SESSION_ID => StatusCode::NOT_FOUND,
        RATING_FAILED => StatusCode::UNPROCESSABLE_ENTITY,
        INVALID_AVP_VALUE | MISSING_AVP | INVALID_AVP_LENGTH => StatusCode::BAD_REQUEST,
        REDIRECT_INDICATION => StatusCode::MISDIRECTED_REQUEST,
        TOO_BUSY => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::CONFLICT,
    }
}

fn error_name(code: u32) -> &'static str {
    match code {
        CREDIT_LIMIT_REACHED => "credit_limit_reached",
        END_USER_SERVICE_DENIED => "service_denied",
        USER_UNKNOWN => "unknown_number",
        UNKNOWN_SESSION_ID => "unknown_session",
        RATING_FAILED => "rating_failed",
        INVALID_AVP_VALUE | MISSING_AVP | INVALID_AVP_LENGTH => "bad_request",
        REDIRECT_INDICATION => "another_instance",
        TOO_BUSY => "moving",
        _ => "refused",
    }
}

/// Whether the caller is an operator: 401 without a known token, 403 for a subscriber's.
fn operator(context: &Context, headers: &HeaderMap) -> Result<(), Reply> {
    match context.tokens.role(headers) {
        Some(Role::Operator) => Ok(()),
        Some(Role::Subscriber { .. }) => Err((
            StatusCode::FORBIDDEN,
            Json(json!({"error": "forbidden", "message": "online charging is the operator's"})),
        )),
        None => Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "unauthorized", "message": "Authorization: Bearer TOKEN"})),
        )),
    }
}

/// The credit-control request a body makes, of `kind`, for `session` at request `number`.
fn request_of(body: &Body, kind: u32, session: &str, number: u32) -> Result<Request, Reply> {
    let msisdn = Msisdn::parse(&body.number).map_err(bad)?;
    let time = match &body.time {
        Some(text) => Some(Timestamp::parse_rfc3339(text).map_err(bad)?),
        None => None,
    };
    if body.service == Service::Mms {
        return Err(bad("online charging serves voice, data and sms"));
    }
    Ok(Request {
        session_id: session.to_string(),
        request_type: kind,
        action: DIRECT_DEBITING,
        number,
        msisdn,
        service: body.service,
        other: body.other.clone(),
        time,
        services: vec![Asked {
            rating_group: body.rating_group,
            requested: body.requested,
            used: body.used,
        }],
        refund: None,
        origin: String::new(),
    })
}

/// Decides `request` and answers as its verdict says.
async fn decide(context: &Context, request: Result<Request, Reply>, created: bool) -> Reply {
    let request = match request {
        Ok(request) => request,
        Err(answer) => return answer,
    };
    let made = match session_requests(&request, super::clock::now()) {
        Ok(made) => made,
        Err(refusal) => return refused(&refusal),
    };
    let read = std::time::Instant::now();
    let Some(verdicts) = decided(&context.jobs, made.clone()).await else {
        return stopping();
    };
    let (Some(made), Some(verdict)) = (made.first(), verdicts.first()) else {
        return stopping();
    };
    let name = meter::request_name(request.request_type, request.action);
    let code = verdict_code(&context.online, made, verdict);
    meter::answered(meter::Interface::Http, name, code, read);
    answer(context, made, verdict, code, created)
}

fn stopping() -> Reply {
    let body = json!({"error": "unavailable", "message": "the charging engine is stopping"});
    (StatusCode::SERVICE_UNAVAILABLE, Json(body))
}

/// The reply to `made`, whose verdict has the Result-Code `code`.
fn answer(
    context: &Context,
    made: &SessionRequest,
    verdict: &Verdict,
    code: u32,
    created: bool,
) -> Reply {
    let mut body = json!({"session": made.session.as_str(), "request": made.request,
                          "result_code": code});
    match verdict {
        Verdict::Granted(session) => {
            body["granted"] = json!(session.granted);
            body["unit"] = json!(made.service.unit().to_string());
            body["final_unit"] = json!(session.final_units);
            body["validity_seconds"] = json!(super::credit_control::validity(made, session));
            body["held"] = json!(session.hold.money.to_string());
            let redirect = (context.online.redirect.as_ref())
                .filter(|_| session.final_units && made.service == Service::Data);
            if let Some(url) = redirect {
                body["redirect"] = json!(url);
            }
        }
        Verdict::Ended => body["ended"] = json!(true),
        Verdict::Debited { units, charge } => {
            body["charged_units"] = json!(units);
            if let Some(bytes) = charge.encode() {
                body["refund_information"] = json!(hex(&bytes));
            }
        }
        Verdict::Refunded(money) => body["refunded"] = json!(money.to_string()),
        Verdict::Refused(rejection) => {
            body["error"] = json!(error_name(code));
            body["message"] = json!(rejection.to_string());
        }
        Verdict::Failed(why) => {
            return refused(&Refusal {
                code,
                why: why.clone(),
            })
        }
        Verdict::Elsewhere(elsewhere) => return elsewhere_reply(elsewhere),
    }
    let status = match status_of(code) {
        StatusCode::OK if created => StatusCode::CREATED,
        status => status,
    };
    (status, Json(body))
}

/// The reply to a request whose account another instance owns (421, with its identity), or
/// whose partition is moving between instances (503).
fn elsewhere_reply(elsewhere: &super::route::Elsewhere) -> Reply {
    match elsewhere {
        super::route::Elsewhere::Owner(owner) => {
            let body = json!({"error": error_name(REDIRECT_INDICATION),
                "result_code": REDIRECT_INDICATION, "owner": owner.host, "uri": owner.uri,
                "message": "another instance owns this subscriber's account: ask it"});
            (StatusCode::MISDIRECTED_REQUEST, Json(body))
        }
        super::route::Elsewhere::Moving => refused(&Refusal {
            code: TOO_BUSY,
            why: "the subscriber's partition is moving between instances: try again".into(),
        }),
    }
}

/// The body as JSON, or 400 with what is wrong with it.
fn body_of(body: JsonBody) -> Result<Body, Reply> {
    body.map(|Json(body)| body).map_err(|e| {
        // Too large (413), not JSON (415), or JSON that is not a request (400, 422 → 400).
        let (_, answer) = bad(e.body_text());
        match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::UNSUPPORTED_MEDIA_TYPE => {
                (e.status(), answer)
            }
            _ => (StatusCode::BAD_REQUEST, answer),
        }
    })
}

async fn begin(
    State(context): State<Arc<Context>>,
    headers: HeaderMap,
    body: JsonBody,
) -> Response {
    if let Err(answer) = operator(&context, &headers) {
        return answer.into_response();
    }
    let request = body_of(body).and_then(|body| match (&body.session, body.request) {
        (None, _) => Err(bad("a first request names its session")),
        (Some(_), Some(n)) if n != 0 => Err(bad("a first request is request 0")),
        (Some(session), _) => request_of(&body, INITIAL_REQUEST, session, 0),
    });
    decide(&context, request, true).await.into_response()
}

/// A later request of the session in the path: `kind` is UPDATE or TERMINATION.
async fn later(
    context: &Context,
    headers: &HeaderMap,
    session: &str,
    body: JsonBody,
    kind: u32,
) -> Response {
    if let Err(answer) = operator(context, headers) {
        return answer.into_response();
    }
    let request = body_of(body).and_then(|body| match (&body.session, body.request) {
        (Some(named), _) if named != session => Err(bad("the body names another session")),
        (_, None | Some(0)) => Err(bad("a later request has its number, from 1")),
        (_, Some(number)) => request_of(&body, kind, session, number),
    });
    decide(context, request, false).await.into_response()
}

async fn update(
    State(context): State<Arc<Context>>,
    Path(session): Path<String>,
    headers: HeaderMap,
    body: JsonBody,
) -> Response {
    later(&context, &headers, &session, body, UPDATE_REQUEST).await
}

async fn terminate(
    State(context): State<Arc<Context>>,
    Path(session): Path<String>,
    headers: HeaderMap,
    body: JsonBody,
) -> Response {
    later(&context, &headers, &session, body, TERMINATION_REQUEST).await
}

/// A one-off item charged at once (direct debiting): `id` is the event's, `requested` its units
/// (one message, or the catalog's quota, when left out).
async fn charge(
    State(context): State<Arc<Context>>,
    headers: HeaderMap,
    body: JsonBody,
) -> Response {
    if let Err(answer) = operator(&context, &headers) {
        return answer.into_response();
    }
    let request = body_of(body).and_then(|body| match (&body.id, &body.session) {
        (None, _) => Err(bad("a charge names its event: id")),
        (Some(_), Some(_)) => Err(bad("a charge is no session's")),
        (Some(id), None) => request_of(&body, EVENT_REQUEST, id, 0),
    });
    decide(&context, request, false).await.into_response()
}

/// A direct debit's charge refunded (REFUND_ACCOUNT): `refund_information` is what the
/// charge's answer carried, `id` the refund's own (sent again with it, nothing more is
/// refunded), `service` and `number` the charge's.
async fn refund(
    State(context): State<Arc<Context>>,
    headers: HeaderMap,
    body: JsonBody,
) -> Response {
    if let Err(answer) = operator(&context, &headers) {
        return answer.into_response();
    }
    let read = std::time::Instant::now();
    let input = body_of(body).and_then(|body| {
        let id = (body.id.as_deref()).ok_or_else(|| bad("a refund names its own id: id"))?;
        let Some(information) = body.refund_information.as_deref() else {
            return Err(bad("a refund names its charge: refund_information"));
        };
        let bytes = unhex(information).ok_or_else(|| bad("refund_information is hexadecimal"))?;
        let mut request = request_of(&body, EVENT_REQUEST, id, 0)?;
        request.action = REFUND_ACCOUNT;
        request.refund = Some(ChargeReference::decode(&bytes).map_err(bad)?);
        request.origin = "http".into();
        refund_input(&request, super::clock::now()).map_err(|r| refused(&r))
    });
    let input = match input {
        Ok(input) => input,
        Err(answer) => return answer.into_response(),
    };
    let id = input.id().clone();
    let Some(verdict) = refunded(&context.jobs, input).await else {
        return stopping().into_response();
    };
    let (code, reply) = match verdict {
        Verdict::Refunded(money) => {
            let body = json!({"id": id.as_str(), "result_code": SUCCESS,
                              "refunded": money.to_string()});
            (SUCCESS, (StatusCode::OK, Json(body)))
        }
        Verdict::Refused(rejection) => {
            let code = super::credit_control::result_of(&rejection);
            let why = rejection.to_string();
            (code, refused(&Refusal { code, why }))
        }
        other => {
            let why = format!("not decided: {other:?}");
            let refusal = Refusal {
                code: UNABLE_TO_COMPLY,
                why,
            };
            (UNABLE_TO_COMPLY, refused(&refusal))
        }
    };
    meter::answered(meter::Interface::Http, "refund_account", code, read);
    reply.into_response()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MaxUsageQuery {
    service: Service,
    #[serde(default)]
    other: Option<String>,
    /// The most units asked about (a cap); the most one usage item may carry when left out.
    #[serde(default)]
    most: Option<u64>,
}

async fn max_usage(
    State(context): State<Arc<Context>>,
    Path(number): Path<String>,
    headers: HeaderMap,
    query: Result<Query<MaxUsageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(answer) = operator(&context, &headers) {
        return answer.into_response();
    }
    let asked = query
        .map_err(|e| bad(e.body_text()))
        .and_then(|Query(query)| {
            let body = Body {
                session: None,
                id: None,
                number,
                service: query.service,
                other: query.other,
                rating_group: None,
                request: None,
                requested: query.most,
                used: 0,
                time: None,
                refund_information: None,
            };
            let request = request_of(&body, INITIAL_REQUEST, "max-usage", 0)?;
            let made = session_requests(&request, super::clock::now()).map_err(|r| refused(&r))?;
            made.into_iter().next().ok_or_else(stopping)
        });
    let asked = match asked {
        Ok(asked) => asked,
        Err(answer) => return answer.into_response(),
    };
    let read = std::time::Instant::now();
    let Some(afforded) = answered(&context.jobs, asked.clone(), Question::MaxUsage).await else {
        return stopping().into_response();
    };
    let code = match &afforded {
        Ok(Answer::Elsewhere(elsewhere)) => elsewhere.result_code(),
        Ok(_) => SUCCESS,
        Err(rejection) => super::credit_control::result_of(rejection),
    };
    meter::answered(meter::Interface::Http, "max_usage", code, read);
    match afforded {
        Ok(Answer::Units(units)) => {
            let body = json!({"number": asked.msisdn.to_string(), "service": asked.service.name(),
                              "unit": asked.service.unit().to_string(), "max_usage": units,
                              "at": asked.time.to_string()});
            (StatusCode::OK, Json(body)).into_response()
        }
        Ok(Answer::Elsewhere(elsewhere)) => elsewhere_reply(&elsewhere).into_response(),
        Ok(Answer::Money(_)) => unreachable!("max usage is answered in units"),
        Err(rejection) => refused(&Refusal {
            code,
            why: rejection.to_string(),
        })
        .into_response(),
    }
}
