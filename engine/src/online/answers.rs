//! What a Diameter peer is answered with, whatever asked it: the answer's common AVPs, a
//! credit-control answer's, and a refusal of a request as a whole. With what every connection
//! shares to make them.

use super::avps::*;
use super::credit_control::{Refusal, Request};
use super::decider::Work;
use super::route::Elsewhere;
use diameter_codec::{Avp, Header, Message, FLAG_ERROR};
use rating::catalog::Online;

/// What every connection shares: who ratel is, the catalog's online rules, the decider.
pub struct Context {
    pub origin_host: String,
    pub origin_realm: String,
    pub online: Online,
    /// The catalog's currency (ISO 4217), for the cost a price enquiry answers.
    pub currency: String,
    pub jobs: std::sync::mpsc::SyncSender<Work>,
}

/// An answer with Result-Code, Origin-Host and Origin-Realm.
pub fn base_answer(context: &Context, request: &Header, code: u32) -> Message {
    let mut answer = Message::answer(request);
    answer
        .push(Avp::unsigned32(RESULT_CODE, None, code))
        .push(Avp::utf8(ORIGIN_HOST, None, &context.origin_host))
        .push(Avp::utf8(ORIGIN_REALM, None, &context.origin_realm));
    answer
}

/// A CCA of `request`, successful until its services say otherwise: Session-Id, Result-Code,
/// the origin, Auth-Application-Id, CC-Request-Type and CC-Request-Number.
pub fn credit_control_answer(context: &Context, message: &Message, request: &Request) -> Message {
    let mut answer = base_answer(context, &message.header, SUCCESS);
    answer
        .avps
        .insert(0, Avp::utf8(SESSION_ID, None, &request.session_id));
    answer
        .push(Avp::unsigned32(
            AUTH_APPLICATION_ID,
            None,
            APPLICATION_CREDIT_CONTROL,
        ))
        .push(Avp::unsigned32(CC_REQUEST_TYPE, None, request.request_type))
        .push(Avp::unsigned32(CC_REQUEST_NUMBER, None, request.number));
    answer
}

/// The answer to a request refused as a whole: its Session-Id and Result-Code.
pub fn refused_answer(context: &Context, message: &Message, refused: &Refusal) -> Message {
    let mut answer = base_answer(context, &message.header, refused.code);
    if let Some(session) = message.find(SESSION_ID, None) {
        answer.avps.insert(0, session.clone());
    }
    answer.push(Avp::unsigned32(
        AUTH_APPLICATION_ID,
        None,
        APPLICATION_CREDIT_CONTROL,
    ));
    for code in [CC_REQUEST_TYPE, CC_REQUEST_NUMBER] {
        if let Some(avp) = message.find(code, None) {
            answer.push(avp.clone());
        }
    }
    let why: String = refused.why.chars().take(200).collect();
    answer.push(Avp::utf8(ERROR_MESSAGE, None, &why).optional());
    answer
}

/// How long a peer may remember a redirection (Redirect-Max-Cache-Time), in seconds: a
/// partition moves only when the instances of the group change.
const REDIRECT_CACHE_SECONDS: u32 = 300;

/// The answer to a request whose account this instance does not own (RFC 6733, 6.1.7 and
/// 7.2): 3006 with the owner's Diameter URI in Redirect-Host, for the session's later
/// requests too; or 3004 while no other owner is known. Both carry the E bit, as protocol
/// errors do, and a routing agent acts on them without the client's help.
pub fn elsewhere_answer(context: &Context, message: &Message, elsewhere: &Elsewhere) -> Message {
    let mut answer = base_answer(context, &message.header, elsewhere.result_code());
    answer.header.flags |= FLAG_ERROR;
    if let Some(session) = message.find(SESSION_ID, None) {
        answer.avps.insert(0, session.clone());
    }
    match elsewhere {
        Elsewhere::Owner(owner) => {
            answer
                .push(Avp::utf8(REDIRECT_HOST, None, &owner.uri))
                .push(Avp::unsigned32(
                    REDIRECT_HOST_USAGE,
                    None,
                    REDIRECT_ALL_SESSION,
                ))
                .push(Avp::unsigned32(
                    REDIRECT_MAX_CACHE_TIME,
                    None,
                    REDIRECT_CACHE_SECONDS,
                ));
        }
        Elsewhere::Moving => {
            let why = "the subscriber's partition is moving between instances: try again";
            answer.push(Avp::utf8(ERROR_MESSAGE, None, why).optional());
        }
    }
    answer
}
