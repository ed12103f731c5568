//! Which partition an input belongs to. Partitions are the unit of ownership: an account, all its
//! numbers and everything that happens to them live in one partition, whose log, state and
//! positions move together. The partition of an input is the Kafka default partitioner's
//! (murmur2 of the key, as Java clients and librdkafka's `murmur2_random` compute it) over the
//! input's key: the account id where the input names one or where its number's account is known,
//! else the number itself. A file rated with `--partitions N` is split exactly as `ratel produce`
//! splits it over N Kafka partitions, so both give the same log, partition by partition.

use rating::{Input, Msisdn};

/// The most partitions an input topic may have.
pub const MAX_PARTITIONS: u32 = 4096;

/// The key an input is published and partitioned by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    Account(compact_str::CompactString),
    /// An input whose account is not known yet: keyed by its number.
    Number(Msisdn),
}

impl Key {
    /// The bytes of the Kafka message key.
    pub fn bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        match self {
            Key::Account(a) => std::borrow::Cow::Borrowed(a.as_bytes()),
            Key::Number(m) => std::borrow::Cow::Owned(m.to_string().into_bytes()),
        }
    }

    pub fn partition(&self, partitions: u32) -> u32 {
        of_bytes(&self.bytes(), partitions)
    }
}

/// The partition of a message key among `partitions`: `(murmur2(key) & 0x7fffffff) % n`.
pub fn of_bytes(key: &[u8], partitions: u32) -> u32 {
    assert!((1..=MAX_PARTITIONS).contains(&partitions));
    (murmur2::murmur2(key, murmur2::KAFKA_SEED) & 0x7fff_ffff) % partitions
}

/// The key of an input; `account_of` finds the account of a number where it is known.
pub fn key<'a>(input: &'a Input, account_of: impl Fn(Msisdn) -> Option<&'a str>) -> Key {
    let by_number = |m: Msisdn| match account_of(m) {
        Some(a) => Key::Account(a.into()),
        None => Key::Number(m),
    };
    match input {
        Input::OpenAccount(x) => Key::Account(x.account.clone()),
        Input::AddNumber(x) => Key::Account(x.account.clone()),
        Input::SetCreditLimit(x) => Key::Account(x.account.clone()),
        Input::Tick(x) => Key::Account(x.account.clone()),
        Input::Payment(x) => match (&x.account, x.msisdn) {
            (Some(a), _) => Key::Account(a.clone()),
            (None, Some(m)) => by_number(m),
            (None, None) => Key::Number(Msisdn(0)),
        },
        Input::RequestPromise(x) => match (&x.account, x.msisdn) {
            (Some(a), _) => Key::Account(a.clone()),
            (None, Some(m)) => by_number(m),
            (None, None) => Key::Number(Msisdn(0)),
        },
        Input::Usage(x) => by_number(x.msisdn),
        Input::ActivateOption(x) | Input::DeactivateOption(x) => by_number(x.msisdn),
        Input::OrderDetalization(x) => by_number(x.msisdn),
        Input::ChangePlan(x) => by_number(x.msisdn),
        Input::Suspend(x) | Input::ReportLost(x) | Input::Resume(x) => by_number(x.msisdn),
        Input::SetBalanceAlerts(x) => Key::Account(x.account.clone()),
        Input::Transfer(x) => by_number(x.from),
        // A credit to a number no account holds bounces back to its sender, whose account
        // remembers it (`rating::decision::concerned`): it is placed with the sender's, so
        // that each partition's log speaks of its own accounts only.
        Input::TransferCredit(x) => match account_of(x.to) {
            Some(account) => Key::Account(account.into()),
            None => Key::Account(x.from_account.clone()),
        },
        Input::TransferRefund(x) => Key::Account(x.account.clone()),
        Input::SetSpendingLimit(x) => by_number(x.msisdn),
        Input::SetGroup(x) => by_number(x.msisdn),
        Input::Adjust(x) => Key::Account(x.account.clone()),
        Input::Grant(x) => by_number(x.msisdn),
        Input::RedeemPoints(x) => Key::Account(x.account.clone()),
        Input::Take(x) => by_number(x.msisdn),
        Input::Refund(x) => Key::Account(x.account.clone()),
        Input::ReversePayment(x) => Key::Account(x.account.clone()),
        Input::Session(x) => by_number(x.msisdn),
        Input::SessionCdr(x) => by_number(x.usage.msisdn),
    }
}

/// The numbers → accounts a producer learns from the stream it publishes (open_account and
/// add_number commands), for keying the usage that follows without the engine's state.
#[derive(Default)]
pub struct Numbers(rustc_hash::FxHashMap<Msisdn, compact_str::CompactString>);

impl Numbers {
    /// Knows `msisdn` as `account`'s (what a store's state says, for a file that follows).
    pub fn insert(&mut self, msisdn: Msisdn, account: &str) {
        self.0.insert(msisdn, account.into());
    }

    pub fn learn(&mut self, input: &Input) {
        match input {
            Input::OpenAccount(x) => {
                for n in &x.numbers {
                    self.0.insert(n.msisdn, x.account.clone());
                }
            }
            Input::AddNumber(x) => {
                self.0.insert(x.number.msisdn, x.account.clone());
            }
            _ => {}
        }
    }

    pub fn key(&self, input: &Input) -> Key {
        key(input, |m| {
            self.0.get(&m).map(compact_str::CompactString::as_str)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_the_java_clients() {
        // Values of org.apache.kafka.common.utils.Utils.murmur2 (Kafka's own unit test),
        // taken to a positive int as the default partitioner does.
        let java = |s: &str| murmur2::murmur2(s.as_bytes(), murmur2::KAFKA_SEED) as i32;
        assert_eq!(java("21"), -973932308);
        assert_eq!(java("foobar"), -790332482);
        assert_eq!(java("a-little-bit-long-string"), -985981536);
        assert_eq!(of_bytes(b"21", 1), 0);
        for key in ["acct-1", "acct-2", "79161234567"] {
            assert!(of_bytes(key.as_bytes(), 12) < 12);
        }
    }

    /// A transfer's credit goes where the receiving number's account is; to a number no
    /// account holds, where the sender's is (whose account remembers the bounce), even when
    /// the sender's account id is made of digits like a number.
    #[test]
    fn a_credit_to_a_number_no_account_holds_goes_with_its_sender() {
        let credit = |to: u64| {
            Input::TransferCredit(rating::event::TransferCredit {
                id: "ratel:credit:11:79000000001:t1".into(),
                transfer: "t1".into(),
                from_account: "79000000001".into(),
                to: Msisdn(to),
                amount: rust_decimal::Decimal::ONE_HUNDRED,
                time: rating::Timestamp(1_800_000_000),
            })
        };
        let account_of = |msisdn: Msisdn| (msisdn == Msisdn(79_000_000_002)).then_some("B");
        let (held, unheld) = (credit(79_000_000_002), credit(79_999_000_000));
        assert_eq!(key(&held, account_of), Key::Account("B".into()));
        assert_eq!(key(&unheld, account_of), Key::Account("79000000001".into()));
    }
}
