//! One Diameter peer's connection (RFC 6733): capabilities exchange first, watchdogs, a
//! disconnect, and credit-control requests handed to the decider and answered, perhaps out of
//! order (answers are matched by their hop-by-hop id), once durable.
//!
//! Limits: a message of at most `MAX_MESSAGE_BYTES`, completed within `FRAME_SECONDS` of its
//! first byte; at most `MAX_IN_FLIGHT` requests of a peer undecided; answers queue for a peer
//! that does not read up to `MAX_QUEUED`, and then its requests wait.

use super::answers::{base_answer, credit_control_answer, refused_answer, Context};
use super::avps::*;
use super::credit_control::{read_request, service_answer, session_requests, Refusal, Verdict};
use super::decider::decided;
use diameter_codec::{frame_length, Avp, Header, Message, FLAG_ERROR, MAX_MESSAGE_BYTES};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};

pub const FRAME_SECONDS: u64 = 10;
pub const MAX_IN_FLIGHT: usize = 1_024;
pub const MAX_QUEUED: usize = 1_024;
const READ_BUFFER_BYTES: usize = 64 * 1024;
const ANSWERS_PER_WRITE: usize = 64;

/// Serves one connection until the peer disconnects, breaks the framing or goes quiet mid-frame.
pub async fn serve(stream: TcpStream, context: Arc<Context>) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let (reader, mut writer) = stream.into_split();
    // Buffered: a message's header and body, and the messages that came with it, in one read.
    let mut reader = tokio::io::BufReader::with_capacity(READ_BUFFER_BYTES, reader);
    let (answers, mut queued) = mpsc::channel::<Vec<u8>>(MAX_QUEUED);
    let writing = tokio::spawn(async move {
        // The answers ready together go out in one write.
        let (mut ready, mut out) = (Vec::new(), Vec::new());
        while queued.recv_many(&mut ready, ANSWERS_PER_WRITE).await > 0 {
            out.clear();
            ready
                .drain(..)
                .for_each(|bytes| out.extend_from_slice(&bytes));
            if writer.write_all(&out).await.is_err() {
                break;
            }
        }
    });
    let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut open = false;
    loop {
        let bytes = match read_frame(&mut reader).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => break,
            Err(why) => {
                tracing::warn!(%peer, %why, "Diameter connection closed");
                break;
            }
        };
        match handle(&bytes, &mut open, &context, &answers, &in_flight).await {
            Flow::Go => {}
            Flow::Close => break,
        }
    }
    drop(answers);
    let _ = writing.await;
}

enum Flow {
    Go,
    Close,
}

/// A whole message, `None` at a clean end of the stream.
async fn read_frame(
    reader: &mut (impl tokio::io::AsyncRead + Unpin),
) -> Result<Option<Vec<u8>>, String> {
    let mut first = [0u8; 4];
    match reader.read_exact(&mut first).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.to_string()),
    }
    let length = frame_length(first).map_err(|e| e.to_string())?;
    debug_assert!(length <= MAX_MESSAGE_BYTES);
    let mut bytes = vec![0u8; length];
    bytes[..4].copy_from_slice(&first);
    let rest = reader.read_exact(&mut bytes[4..]);
    match tokio::time::timeout(std::time::Duration::from_secs(FRAME_SECONDS), rest).await {
        Ok(Ok(_)) => Ok(Some(bytes)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("a message not completed within {FRAME_SECONDS} s")),
    }
}

async fn handle(
    bytes: &[u8],
    open: &mut bool,
    context: &Arc<Context>,
    answers: &mpsc::Sender<Vec<u8>>,
    in_flight: &Arc<Semaphore>,
) -> Flow {
    let Ok(header) = Message::decode_header(bytes) else {
        return Flow::Close;
    };
    if header.flags & diameter_codec::FLAG_REQUEST == 0 {
        // An answer: ratel sends no requests, so there is nothing it answers.
        return Flow::Go;
    }
    let message = match Message::decode(bytes) {
        Ok(message) => message,
        Err(e) => {
            let refused = Refusal {
                code: INVALID_AVP_LENGTH,
                why: e.to_string(),
            };
            send(answers, error_answer(context, &header, &refused)).await;
            return Flow::Go;
        }
    };
    match (header.command, *open) {
        (COMMAND_CAPABILITIES_EXCHANGE, _) => {
            *open = true;
            send(answers, capabilities(context, &header)).await;
            Flow::Go
        }
        (_, false) => Flow::Close,
        (COMMAND_DEVICE_WATCHDOG, true) => {
            send(answers, base_answer(context, &header, SUCCESS)).await;
            Flow::Go
        }
        (COMMAND_DISCONNECT_PEER, true) => {
            send(answers, base_answer(context, &header, SUCCESS)).await;
            Flow::Close
        }
        (COMMAND_CREDIT_CONTROL, true) => {
            let Ok(permit) = in_flight.clone().acquire_owned().await else {
                return Flow::Close;
            };
            let (context, answers) = (context.clone(), answers.clone());
            tokio::spawn(async move {
                let read = std::time::Instant::now();
                let answer = credit_control(&context, &message).await;
                record(&message, &answer, read);
                send(&answers, answer).await;
                drop(permit);
            });
            Flow::Go
        }
        (_, true) => {
            let refused = Refusal {
                code: COMMAND_UNSUPPORTED,
                why: format!("command {} is not served here", header.command),
            };
            send(answers, error_answer(context, &header, &refused)).await;
            Flow::Go
        }
    }
}

/// Counts a credit-control request answered: its type (and action) and Result-Code.
fn record(request: &Message, answer: &Message, read: std::time::Instant) {
    let value = |message: &Message, code| {
        (message.find(code, None)).and_then(|avp| avp.as_unsigned32().ok())
    };
    let kind = value(request, CC_REQUEST_TYPE).unwrap_or(0);
    let action = value(request, REQUESTED_ACTION).unwrap_or(DIRECT_DEBITING);
    let result = value(answer, RESULT_CODE).unwrap_or(0);
    let name = super::meter::request_name(kind, action);
    super::meter::answered(super::meter::Interface::Diameter, name, result, read);
}

async fn send(answers: &mpsc::Sender<Vec<u8>>, message: Message) {
    let mut bytes = Vec::new();
    message.encode(&mut bytes);
    // A connection closing: its answers have nowhere to go.
    let _ = answers.send(bytes).await;
}

fn capabilities(context: &Context, request: &Header) -> Message {
    let mut answer = base_answer(context, request, SUCCESS);
    answer
        .push(Avp::octets(HOST_IP_ADDRESS, None, &[0, 1, 127, 0, 0, 1]))
        .push(Avp::unsigned32(VENDOR_ID, None, 0))
        .push(Avp::utf8(PRODUCT_NAME, None, "ratel").optional())
        .push(Avp::unsigned32(
            AUTH_APPLICATION_ID,
            None,
            APPLICATION_CREDIT_CONTROL,
        ));
    answer
}

/// An answer with the E bit, the Result-Code and an Error-Message (RFC 6733, 7.1.3).
fn error_answer(context: &Context, request: &Header, refused: &Refusal) -> Message {
    let mut answer = base_answer(context, request, refused.code);
    answer.header.flags |= FLAG_ERROR;
    let why: String = refused.why.chars().take(200).collect();
    answer.push(Avp::utf8(ERROR_MESSAGE, None, &why).optional());
    answer
}

/// A credit-control request, decided and durable, and its answer.
async fn credit_control(context: &Context, message: &Message) -> Message {
    let request = match read_request(message) {
        Ok(request) => request,
        Err(refused) => return refused_answer(context, message, &refused),
    };
    if request.refund.is_some() {
        return super::refund::answer(context, message, &request).await;
    }
    let requests = match session_requests(&request, super::clock::now()) {
        Ok(requests) => requests,
        Err(refused) => return refused_answer(context, message, &refused),
    };
    if request.request_type == EVENT_REQUEST && request.action != DIRECT_DEBITING {
        return super::enquiry::answer(context, message, &request, requests).await;
    }
    let Some(verdicts) = decided(&context.jobs, requests.clone()).await else {
        let stopping = Refusal {
            code: UNABLE_TO_COMPLY,
            why: "the charging engine is stopping".into(),
        };
        return refused_answer(context, message, &stopping);
    };
    if let Some(Verdict::Elsewhere(elsewhere)) = verdicts.first() {
        return super::answers::elsewhere_answer(context, message, elsewhere);
    }
    let mut answer = credit_control_answer(context, message, &request);
    let mut codes = Vec::new();
    for (made, verdict) in requests.iter().zip(&verdicts) {
        let (avp, code) = service_answer(&context.online, made, verdict);
        answer.push(avp);
        codes.push(code);
    }
    // One service refused for a reason of the whole request (an unknown subscriber) refuses the
    // request; otherwise each service says its own.
    if let Some(&code) = codes.first().filter(|&&c| codes.iter().all(|&d| d == c)) {
        answer.avps[1] = Avp::unsigned32(RESULT_CODE, None, code);
    }
    answer
}
