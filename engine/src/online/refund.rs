//! REFUND_ACCOUNT (RFC 4006, 6.4; 3GPP TS 32.299's immediate event charging refund): the
//! network hands back a direct debit's Refund-Information when the service it paid for was not
//! delivered, and what is left of that charge goes back to the account, through the same
//! refund rule as an operator's `refund` input (never beyond what the charge took; a request
//! sent again is a repeat and refunds nothing more).

use super::answers::{credit_control_answer, refused_answer, Context};
use super::avps::*;
use super::credit_control::{refund_input, result_of, Refusal, Request, Verdict};
use super::decider::refunded;
use diameter_codec::Message;

/// The answer to a REFUND_ACCOUNT, once its decision is durable: 2001 with the money that came
/// back in Cost-Information, or the refusal's Result-Code and why.
pub async fn answer(context: &Context, message: &Message, request: &Request) -> Message {
    let input = match refund_input(request, super::clock::now()) {
        Ok(input) => input,
        Err(refused) => return refused_answer(context, message, &refused),
    };
    let refused = |code, why| refused_answer(context, message, &Refusal { code, why });
    match refunded(&context.jobs, input).await {
        None => refused(UNABLE_TO_COMPLY, "the charging engine is stopping".into()),
        Some(Verdict::Refunded(money)) => {
            let mut answer = credit_control_answer(context, message, request);
            if let Some(cost) = super::enquiry::cost_information(money, &context.currency) {
                answer.push(cost);
            }
            answer
        }
        Some(Verdict::Refused(rejection)) => refused(result_of(&rejection), rejection.to_string()),
        Some(Verdict::Failed(why)) => refused(UNABLE_TO_COMPLY, why),
        Some(Verdict::Elsewhere(elsewhere)) => {
            super::answers::elsewhere_answer(context, message, &elsewhere)
        }
        Some(other) => refused(
            UNABLE_TO_COMPLY,
            format!("not a refund's verdict: {other:?}"),
        ),
    }
}
