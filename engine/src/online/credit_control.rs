//! Credit-Control (RFC 4006, 3GPP TS 32.299 Ro/Gy) in ratel's words: a request read into the
//! session requests the rating core decides, one for each Multiple-Services-Credit-Control, and
//! their verdicts written into the answer.

use super::avps::*;
use diameter_codec::{find, Avp, Message};
use rating::catalog::Online;
use rating::charge_reference::ChargeReference;
use rating::event::{SessionRequest, SessionStep};
use rating::session::Session;
use rating::{Msisdn, Rejection, Service, Timestamp, Unit};

/// A refusal of a request as a whole: its Result-Code and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: u32,
    pub why: String,
}

fn refusal(code: u32, why: impl Into<String>) -> Refusal {
    Refusal {
        code,
        why: why.into(),
    }
}

/// One service of a request (a Multiple-Services-Credit-Control, or the request itself when it
/// has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    pub rating_group: Option<u32>,
    pub requested: Option<u64>,
    pub used: u64,
}

/// A credit-control request as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub session_id: String,
    pub request_type: u32,
    /// Requested-Action of an event request (DIRECT_DEBITING when absent).
    pub action: u32,
    pub number: u32,
    pub msisdn: Msisdn,
    pub service: Service,
    pub other: Option<String>,
    /// Event-Timestamp, if the request carried one.
    pub time: Option<Timestamp>,
    pub services: Vec<Asked>,
    /// A REFUND_ACCOUNT's charge: its Refund-Information.
    pub refund: Option<ChargeReference>,
    /// Origin-Host: the peer a refund is recorded as made by.
    pub origin: String,
}

/// The verdict on one service of a request, once durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Units granted (perhaps none, with `final_units`): the session as it stands.
    Granted(Box<Session>),
    Ended,
    /// A one-off item charged: its units, and the charge a refund names.
    Debited {
        units: u64,
        charge: ChargeReference,
    },
    /// A charge refunded: the money that came back.
    Refunded(rust_decimal::Decimal),
    Refused(Rejection),
    /// Not decided: dead-lettered, or the store failed.
    Failed(String),
    /// Not decided here: the account is another instance's.
    Elsewhere(super::route::Elsewhere),
}

fn unsigned32(avps: &[Avp], code: u32) -> Result<Option<u32>, Refusal> {
    find(avps, code, None)
        .map(|a| {
            a.as_unsigned32()
                .map_err(|e| refusal(INVALID_AVP_LENGTH, e.to_string()))
        })
        .transpose()
}

fn unsigned64(avps: &[Avp], code: u32) -> Result<Option<u64>, Refusal> {
    match find(avps, code, None) {
        None => Ok(None),
        // CC-Time is Unsigned32, the octets and units Unsigned64; a peer may send either width.
        Some(a) if a.data.len() == 4 => a.as_unsigned32().map(|v| Some(u64::from(v))),
        Some(a) => a.as_unsigned64().map(Some),
    }
    .map_err(|e| refusal(INVALID_AVP_LENGTH, e.to_string()))
}

fn grouped(avp: &Avp) -> Result<Vec<Avp>, Refusal> {
    avp.as_grouped()
        .map_err(|e| refusal(INVALID_AVP_LENGTH, e.to_string()))
}

fn utf8(avp: &Avp) -> Result<&str, Refusal> {
    avp.as_utf8()
        .map_err(|e| refusal(INVALID_AVP_VALUE, e.to_string()))
}

/// Reads a credit-control request; a refusal names the Result-Code to answer with.
pub fn read_request(message: &Message) -> Result<Request, Refusal> {
    let avps = &message.avps;
    let required = |code: u32| find(avps, code, None).ok_or_else(|| missing(code));
    let session_id = utf8(required(SESSION_ID)?)?.to_string();
    let request_type =
        unsigned32(avps, CC_REQUEST_TYPE)?.ok_or_else(|| missing(CC_REQUEST_TYPE))?;
    let number = unsigned32(avps, CC_REQUEST_NUMBER)?.ok_or_else(|| missing(CC_REQUEST_NUMBER))?;
    let service = service_of(utf8(required(SERVICE_CONTEXT_ID)?)?)?;
    let action = unsigned32(avps, REQUESTED_ACTION)?.unwrap_or(DIRECT_DEBITING);
    if request_type == EVENT_REQUEST && action > PRICE_ENQUIRY {
        return Err(refusal(
            INVALID_AVP_VALUE,
            format!("Requested-Action {action}"),
        ));
    }
    if !(INITIAL_REQUEST..=EVENT_REQUEST).contains(&request_type) {
        return Err(refusal(
            INVALID_AVP_VALUE,
            format!("CC-Request-Type {request_type}"),
        ));
    }
    let time = match find(avps, EVENT_TIMESTAMP, None) {
        Some(a) => Some(time_of(a)?),
        None => None,
    };
    let mut services = Vec::new();
    for avp in avps
        .iter()
        .filter(|a| a.code == MULTIPLE_SERVICES_CREDIT_CONTROL)
    {
        services.push(asked(&grouped(avp)?, service)?);
    }
    if services.is_empty() {
        services.push(asked(avps, service)?);
    }
    if services.len() > 16 {
        return Err(refusal(
            UNABLE_TO_COMPLY,
            "more than 16 services in one request",
        ));
    }
    let refund = match (request_type, action) {
        (EVENT_REQUEST, REFUND_ACCOUNT) => Some(refund_information(avps)?),
        _ => None,
    };
    let origin = match find(avps, ORIGIN_HOST, None) {
        Some(host) => utf8(host)?.to_string(),
        None => String::new(),
    };
    Ok(Request {
        session_id,
        request_type,
        action,
        number,
        msisdn: subscriber(avps)?,
        service,
        other: other_party(avps)?,
        time,
        services,
        refund,
        origin,
    })
}

/// The charge a REFUND_ACCOUNT names: Refund-Information, in its Multiple-Services-Credit-Control
/// (TS 32.299) or beside it.
fn refund_information(avps: &[Avp]) -> Result<ChargeReference, Refusal> {
    let mut found = find(avps, REFUND_INFORMATION, Some(VENDOR_3GPP)).cloned();
    let services = avps
        .iter()
        .filter(|a| a.code == MULTIPLE_SERVICES_CREDIT_CONTROL);
    for avp in services {
        if found.is_some() {
            break;
        }
        found = find(&grouped(avp)?, REFUND_INFORMATION, Some(VENDOR_3GPP)).cloned();
    }
    let avp = found.ok_or_else(|| missing(REFUND_INFORMATION))?;
    ChargeReference::decode(&avp.data).map_err(|why| refusal(INVALID_AVP_VALUE, why))
}

/// The refund input of a REFUND_ACCOUNT received at `arrival`: what is left of the charge its
/// Refund-Information names, back to the account. Its id is in the engine's namespace and no
/// session request's (those end in the request number), so that a request sent again is a
/// repeat and nothing else is.
pub fn refund_input(request: &Request, arrival: Timestamp) -> Result<rating::Input, Refusal> {
    let charge = (request.refund.clone()).ok_or_else(|| missing(REFUND_INFORMATION))?;
    let time = checked_time(request, arrival)?;
    let mut id = SessionRequest::id_of(&request.session_id, request.number);
    id.push_str(":refund");
    // The peer's identity as the refund's operator, cut to what an operator id may be.
    let mut operator = String::new();
    for c in request.origin.chars().filter(|c| !c.is_control()) {
        if operator.len() + c.len_utf8() > rating::event::MAX_REASON_BYTES {
            break;
        }
        operator.push(c);
    }
    if operator.is_empty() {
        operator.push_str("diameter");
    }
    let input = rating::Input::Refund(rating::event::Refund {
        id,
        account: charge.account,
        charge: charge.event,
        amount: None,
        units: None,
        reason: "refund_account".into(),
        operator: operator.into(),
        time,
        found: None,
    });
    input
        .check()
        .map_err(|why| refusal(INVALID_AVP_VALUE, why))?;
    Ok(input)
}

/// The request's time: its Event-Timestamp, not ahead of `arrival` by more than
/// [`MAX_AHEAD_SECONDS`], or else `arrival`.
fn checked_time(request: &Request, arrival: Timestamp) -> Result<Timestamp, Refusal> {
    match request.time {
        Some(time) if time.0 > arrival.0 + MAX_AHEAD_SECONDS => {
            let why = format!("Event-Timestamp {time} is ahead of the server's clock {arrival}");
            Err(refusal(INVALID_AVP_VALUE, why))
        }
        Some(time) => Ok(time),
        None => Ok(arrival),
    }
}

fn missing(code: u32) -> Refusal {
    refusal(MISSING_AVP, format!("AVP {code} is missing"))
}

fn service_of(context: &str) -> Result<Service, Refusal> {
    // An operator's contexts carry a prefix (e.g. a release: "8.32251@3gpp.org").
    match context {
        c if c.ends_with(CONTEXT_VOICE) => Ok(Service::Voice),
        c if c.ends_with(CONTEXT_DATA) => Ok(Service::Data),
        c if c.ends_with(CONTEXT_SMS) => Ok(Service::Sms),
        c => Err(refusal(
            INVALID_AVP_VALUE,
            format!("Service-Context-Id {c:?} is not voice, data or SMS"),
        )),
    }
}

fn time_of(avp: &Avp) -> Result<Timestamp, Refusal> {
    let ntp = avp
        .as_unsigned32()
        .map_err(|e| refusal(INVALID_AVP_LENGTH, e.to_string()))?;
    Ok(Timestamp(i64::from(ntp) - NTP_UNIX_OFFSET))
}

/// The subscriber: the Subscription-Id of type END_USER_E164.
fn subscriber(avps: &[Avp]) -> Result<Msisdn, Refusal> {
    for avp in avps.iter().filter(|a| a.code == SUBSCRIPTION_ID) {
        let members = grouped(avp)?;
        if unsigned32(&members, SUBSCRIPTION_ID_TYPE)? != Some(END_USER_E164) {
            continue;
        }
        let data = find(&members, SUBSCRIPTION_ID_DATA, None)
            .ok_or_else(|| missing(SUBSCRIPTION_ID_DATA))?;
        return Msisdn::parse(utf8(data)?).map_err(|e| refusal(INVALID_AVP_VALUE, e));
    }
    Err(refusal(
        MISSING_AVP,
        "no Subscription-Id of type END_USER_E164",
    ))
}

/// The other party: IMS-Information's Called-Party-Address, or Called-Station-Id.
fn other_party(avps: &[Avp]) -> Result<Option<String>, Refusal> {
    let ims = match find(avps, SERVICE_INFORMATION, Some(VENDOR_3GPP)) {
        Some(info) => match find(&grouped(info)?, IMS_INFORMATION, Some(VENDOR_3GPP)) {
            Some(ims) => {
                let members = grouped(ims)?;
                match find(&members, CALLED_PARTY_ADDRESS, Some(VENDOR_3GPP)) {
                    Some(called) => Some(utf8(called)?.to_string()),
                    None => None,
                }
            }
            None => None,
        },
        None => None,
    };
    let other = match ims {
        Some(address) => Some(address),
        None => match find(avps, CALLED_STATION_ID, None) {
            Some(a) => Some(utf8(a)?.to_string()),
            None => None,
        },
    };
    // A SIP or tel URI names the number: "tel:+79001234567", "sip:+79001234567@ims…".
    Ok(other.map(|o| {
        let o = o
            .strip_prefix("tel:")
            .or_else(|| o.strip_prefix("sip:"))
            .unwrap_or(&o);
        o.split(['@', ';']).next().unwrap_or_default().to_string()
    }))
}

/// The units of a service's Requested- or Used-Service-Unit, in its unit.
fn units(avp: &Avp, service: Service) -> Result<Option<u64>, Refusal> {
    let members = grouped(avp)?;
    let code = match service.unit() {
        Unit::Seconds => CC_TIME,
        Unit::Bytes => CC_TOTAL_OCTETS,
        Unit::Messages => CC_SERVICE_SPECIFIC_UNITS,
    };
    unsigned64(&members, code)
}

fn asked(avps: &[Avp], service: Service) -> Result<Asked, Refusal> {
    let requested = match find(avps, REQUESTED_SERVICE_UNIT, None) {
        Some(avp) => units(avp, service)?,
        None => None,
    };
    let mut used = 0u64;
    for avp in avps.iter().filter(|a| a.code == USED_SERVICE_UNIT) {
        used = used.saturating_add(units(avp, service)?.unwrap_or(0));
    }
    Ok(Asked {
        rating_group: unsigned32(avps, RATING_GROUP)?,
        requested,
        used,
    })
}

/// How far ahead of the server's clock a request's Event-Timestamp may be: clocks of the
/// network's nodes drift, but not by more.
pub const MAX_AHEAD_SECONDS: i64 = 300;

/// The session requests of a credit-control request received at `arrival`: one for each of
/// its services. A service of a rating group is a session of its own within the Diameter
/// session (`SESSION#GROUP`).
pub fn session_requests(
    request: &Request,
    arrival: Timestamp,
) -> Result<Vec<SessionRequest>, Refusal> {
    let time = checked_time(request, arrival)?;
    let step = match request.request_type {
        INITIAL_REQUEST => SessionStep::Initial,
        UPDATE_REQUEST => SessionStep::Update,
        TERMINATION_REQUEST => SessionStep::Terminate,
        _ => SessionStep::Event,
    };
    let other = match (&request.other, request.service) {
        (_, Service::Data) => None,
        (Some(other), _) => Some(other.as_str().into()),
        (None, service) => return Err(missing_other(service)),
    };
    (request.services.iter())
        .map(|asked| {
            let session = match asked.rating_group {
                Some(group) => format!("{}#{group}", request.session_id),
                None => request.session_id.clone(),
            };
            let made = SessionRequest {
                id: SessionRequest::id_of(&session, request.number),
                session: session.into(),
                request: request.number,
                step,
                msisdn: request.msisdn,
                service: request.service,
                direction: rating::Direction::Out,
                other: other.clone(),
                location: rating::Zone::Home,
                rating_group: asked.rating_group,
                time,
                requested: asked.requested,
                used: asked.used,
            };
            let input = rating::Input::Session(made);
            input
                .check()
                .map_err(|why| refusal(INVALID_AVP_VALUE, why))?;
            let rating::Input::Session(made) = input else {
                unreachable!("made as a session request")
            };
            Ok(made)
        })
        .collect()
}

fn missing_other(service: Service) -> Refusal {
    refusal(
        MISSING_AVP,
        format!("{service} needs the other party: Called-Party-Address or Called-Station-Id"),
    )
}

/// The Result-Code of a refusal by the rating core.
pub fn result_of(rejection: &Rejection) -> u32 {
    match rejection {
        Rejection::UnknownNumber(_) | Rejection::Released(_) => USER_UNKNOWN,
        Rejection::CreditLimitReached { .. } => CREDIT_LIMIT_REACHED,
        Rejection::ServiceDenied(_) | Rejection::BeforeNumberJoined { .. } => {
            END_USER_SERVICE_DENIED
        }
        Rejection::NoRate { .. }
        | Rejection::UnknownDestination(_)
        | Rejection::BadOtherParty(_) => RATING_FAILED,
        Rejection::UnknownSession(_) => UNKNOWN_SESSION_ID,
        Rejection::Malformed(_) | Rejection::QuantityTooLarge { .. } => INVALID_AVP_VALUE,
        _ => UNABLE_TO_COMPLY,
    }
}

/// The Result-Code of one verdict.
pub fn verdict_code(online: &Online, request: &SessionRequest, verdict: &Verdict) -> u32 {
    match verdict {
        Verdict::Granted(session) => {
            // Nothing more and no page to send the subscriber to: the credit limit is reached.
            let redirected = online.redirect.is_some() && request.service == Service::Data;
            if session.granted == 0 && session.final_units && !redirected {
                CREDIT_LIMIT_REACHED
            } else {
                SUCCESS
            }
        }
        Verdict::Debited { .. } | Verdict::Refunded(_) | Verdict::Ended => SUCCESS,
        Verdict::Refused(rejection) => result_of(rejection),
        Verdict::Failed(_) => UNABLE_TO_COMPLY,
        Verdict::Elsewhere(elsewhere) => elsewhere.result_code(),
    }
}

/// The Multiple-Services-Credit-Control of one verdict, and its Result-Code.
pub fn service_answer(online: &Online, request: &SessionRequest, verdict: &Verdict) -> (Avp, u32) {
    let mut members = Vec::new();
    match verdict {
        Verdict::Granted(session) => {
            members.push(Avp::grouped(
                GRANTED_SERVICE_UNIT,
                None,
                &[unit_avp(request.service, session.granted)],
            ));
            members.push(Avp::unsigned32(
                VALIDITY_TIME,
                None,
                validity(request, session),
            ));
            if session.final_units {
                members.push(final_unit(online, request.service));
            }
        }
        Verdict::Debited { units, charge } => {
            members.push(Avp::grouped(
                GRANTED_SERVICE_UNIT,
                None,
                &[unit_avp(request.service, *units)],
            ));
            if let Some(bytes) = charge.encode() {
                members.push(Avp::octets(REFUND_INFORMATION, Some(VENDOR_3GPP), &bytes));
            }
        }
        Verdict::Ended
        | Verdict::Refunded(_)
        | Verdict::Refused(_)
        | Verdict::Failed(_)
        | Verdict::Elsewhere(_) => {}
    }
    let code = verdict_code(online, request, verdict);
    if let Some(group) = request.rating_group {
        members.push(Avp::unsigned32(RATING_GROUP, None, group));
    }
    members.push(Avp::unsigned32(RESULT_CODE, None, code));
    (
        Avp::grouped(MULTIPLE_SERVICES_CREDIT_CONTROL, None, &members),
        code,
    )
}

/// Seconds from the request until the session's grant lapses (Validity-Time).
pub fn validity(request: &SessionRequest, session: &Session) -> u32 {
    (session.expires.0 - request.time.0).clamp(0, i64::from(u32::MAX)) as u32
}

fn unit_avp(service: Service, units: u64) -> Avp {
    match service.unit() {
        Unit::Seconds => Avp::unsigned32(CC_TIME, None, units.min(u64::from(u32::MAX)) as u32),
        Unit::Bytes => Avp::unsigned64(CC_TOTAL_OCTETS, None, units),
        Unit::Messages => Avp::unsigned64(CC_SERVICE_SPECIFIC_UNITS, None, units),
    }
}

/// Final-Unit-Indication: data goes to the top-up page when the catalog names one; the rest
/// ends.
fn final_unit(online: &Online, service: Service) -> Avp {
    match (&online.redirect, service) {
        (Some(url), Service::Data) => Avp::grouped(
            FINAL_UNIT_INDICATION,
            None,
            &[
                Avp::unsigned32(FINAL_UNIT_ACTION, None, FINAL_UNIT_REDIRECT),
                Avp::grouped(
                    REDIRECT_SERVER,
                    None,
                    &[
                        Avp::unsigned32(REDIRECT_ADDRESS_TYPE, None, REDIRECT_ADDRESS_URL),
                        Avp::utf8(REDIRECT_SERVER_ADDRESS, None, url),
                    ],
                ),
            ],
        ),
        _ => Avp::grouped(
            FINAL_UNIT_INDICATION,
            None,
            &[Avp::unsigned32(
                FINAL_UNIT_ACTION,
                None,
                FINAL_UNIT_TERMINATE,
            )],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refund_request(origin: &str, session: &str) -> Request {
        Request {
            session_id: session.into(),
            request_type: EVENT_REQUEST,
            action: REFUND_ACCOUNT,
            number: 3,
            msisdn: Msisdn::parse("79001000003").unwrap(),
            service: Service::Sms,
            other: None,
            time: None,
            services: Vec::new(),
            refund: Some(ChargeReference {
                account: "C".into(),
                event: SessionRequest::id_of("gw;sms;1", 0),
            }),
            origin: origin.into(),
        }
    }

    /// A refund's id is in the engine's namespace and no session request's, and any peer's
    /// identity makes an operator id the input's checks accept.
    #[test]
    fn a_refund_is_an_input_of_its_own_id_whoever_asks() {
        let at = Timestamp(1_790_000_000);
        let long = "ж".repeat(100);
        for origin in ["gw.test", "", long.as_str(), "a\u{7}b"] {
            let input = refund_input(&refund_request(origin, "s:3"), at).unwrap();
            let rating::Input::Refund(refund) = &input else {
                panic!("{input:?}")
            };
            assert!(refund.id.starts_with(rating::event::DERIVED_ID_PREFIX));
            assert!(refund.id.ends_with(":refund"));
            assert_ne!(refund.id, SessionRequest::id_of("s:3", 3));
            assert!(!refund.operator.is_empty() && refund.operator.len() <= 64);
            assert_eq!((refund.account.as_str(), refund.time), ("C", at));
        }
        let mut ahead = refund_request("gw", "s");
        ahead.time = Some(Timestamp(at.0 + MAX_AHEAD_SECONDS + 1));
        assert_eq!(
            refund_input(&ahead, at).unwrap_err().code,
            INVALID_AVP_VALUE
        );
        let mut none = refund_request("gw", "s");
        none.refund = None;
        assert_eq!(refund_input(&none, at).unwrap_err().code, MISSING_AVP);
    }
}
