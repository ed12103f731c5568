//! The event requests that only ask (RFC 4006, 6.2 and 6.3): CHECK_BALANCE, whether the money
//! covers the units asked, and PRICE_ENQUIRY, what they would cost. Answered from the state as
//! committed, as the first request of a session would be priced; nothing is held, charged or
//! logged.

use super::answers::{credit_control_answer, refused_answer, Context};
use super::avps::*;
use super::credit_control::{result_of, Refusal, Request};
use super::decider::{answered, Answer, Question};
use diameter_codec::{Avp, Message};
use rating::event::SessionRequest;
use rust_decimal::Decimal;

/// Check-Balance-Result's values.
const ENOUGH_CREDIT: u32 = 0;
const NO_CREDIT: u32 = 1;

/// The answer to an enquiry: one question for each of the request's services.
pub async fn answer(
    context: &Context,
    message: &Message,
    request: &Request,
    requests: Vec<SessionRequest>,
) -> Message {
    let question = match request.action {
        CHECK_BALANCE => Question::MaxUsage,
        _ => Question::Price,
    };
    let (mut enough, mut price) = (true, Decimal::ZERO);
    for mut asked in requests {
        // The units asked, or the catalog's quota: a check asks whether they would be granted.
        let unit = asked.service.unit();
        let wanted = asked.requested.unwrap_or(context.online.quota(unit));
        asked.requested = Some(wanted);
        match answered(&context.jobs, asked, question).await {
            None => return refused_answer(context, message, &stopping()),
            Some(Err(rejection)) => {
                let refused = Refusal {
                    code: result_of(&rejection),
                    why: rejection.to_string(),
                };
                return refused_answer(context, message, &refused);
            }
            Some(Ok(Answer::Elsewhere(elsewhere))) => {
                return super::answers::elsewhere_answer(context, message, &elsewhere);
            }
            Some(Ok(Answer::Units(units))) => enough &= units >= wanted,
            Some(Ok(Answer::Money(money))) => price += money,
        }
    }
    let mut answer = credit_control_answer(context, message, request);
    if question == Question::MaxUsage {
        let result = if enough { ENOUGH_CREDIT } else { NO_CREDIT };
        answer.push(Avp::unsigned32(CHECK_BALANCE_RESULT, None, result));
        return answer;
    }
    match cost_information(price, &context.currency) {
        Some(cost) => {
            answer.push(cost);
            answer
        }
        None => {
            let why = format!(
                "the catalog's currency {} has no ISO 4217 number here",
                context.currency
            );
            refused_answer(
                context,
                message,
                &Refusal {
                    code: UNABLE_TO_COMPLY,
                    why,
                },
            )
        }
    }
}

fn stopping() -> Refusal {
    Refusal {
        code: UNABLE_TO_COMPLY,
        why: "the charging engine is stopping".into(),
    }
}

/// Cost-Information: Unit-Value (Value-Digits × 10^Exponent) and Currency-Code.
pub(super) fn cost_information(price: Decimal, currency: &str) -> Option<Avp> {
    let code = iso_4217_number(currency)?;
    let digits = i64::try_from(price.mantissa()).ok()?;
    let exponent = -i32::try_from(price.scale()).ok()?;
    let value = [
        // Integer64 and Integer32 are two's complement in the same widths.
        Avp::unsigned64(VALUE_DIGITS, None, digits as u64),
        Avp::unsigned32(EXPONENT, None, exponent as u32),
    ];
    let members = [
        Avp::grouped(UNIT_VALUE, None, &value),
        Avp::unsigned32(CURRENCY_CODE, None, code),
    ];
    Some(Avp::grouped(COST_INFORMATION, None, &members))
}

/// The ISO 4217 number of the currencies operators near ratel's use.
fn iso_4217_number(currency: &str) -> Option<u32> {
    Some(match currency {
        "RUB" => 643,
        "KZT" => 398,
        "BYN" => 933,
        "UZS" => 860,
        "AMD" => 51,
        "AZN" => 944,
        "GEL" => 981,
        "KGS" => 417,
        "TJS" => 972,
        "UAH" => 980,
        "MDL" => 498,
        "USD" => 840,
        "EUR" => 978,
        "GBP" => 826,
        "TRY" => 949,
        "INR" => 356,
        "CNY" => 156,
        _ => return None,
    })
}
