//! Who is how busy in a generated workload: a subscriber base as a mixture of kinds of
//! subscriber, each kind with its share of the accounts and its mean events a day.
//!
//! | kind | share of accounts | events a day (at a mean of 7.95) | share of the events |
//! |---|---|---|---|
//! | quiet | 60 % | 2 | 15 % |
//! | regular | 30 % | 10 | 38 % |
//! | busy | 9 % | 25 | 28 % |
//! | heavy | 1 % | 150 | 19 % |
//!
//! The rates are scaled so that the mean account makes the workload's events a day; at the
//! default of 8 they are as the table says. A mixture rather than a Zipf law because its shape
//! does not change with the size of the base: with a Zipf law of exponent 0.6 over ten million
//! accounts the busiest one would make some fifty thousand events a day, over ten thousand a few
//! hundred, so that the harness would measure another subscriber base at each size.
//!
//! Which accounts are of which kind is a fixed spread of ranks over the accounts (rank `r` is
//! account `r · SPREAD mod N`), so the heavy users are scattered over the accounts and the
//! partitions, and nothing is held per account: an event's account is drawn in constant time
//! and memory, whatever the size of the base.

use rand::Rng;

/// The kinds of subscriber: name, share of the accounts, mean events a day.
pub const KINDS: [(&str, f64, f64); 4] = [
    ("quiet", 0.60, 2.0),
    ("regular", 0.30, 10.0),
    ("busy", 0.09, 25.0),
    ("heavy", 0.01, 150.0),
];

/// A prime that spreads ranks over accounts: coprime with any number of accounts below it.
const SPREAD: u64 = 2_147_483_647;

/// The most accounts a population may have (the spread must stay coprime with their number).
pub const MAX_ACCOUNTS: u64 = 1_000_000_000;

/// The accounts of one kind: their ranks, their events a day, and the share of all events up to
/// and including this kind.
#[derive(Debug, Clone)]
struct Kind {
    first_rank: u64,
    count: u64,
    per_day: f64,
    events_up_to: f64,
}

#[derive(Debug, Clone)]
pub struct Population {
    accounts: u64,
    kinds: Vec<Kind>,
    events_per_day: f64,
}

impl Population {
    /// `accounts` subscribers making `mean_per_day` events a day on average.
    pub fn new(accounts: u64, mean_per_day: f64) -> Population {
        assert!(accounts <= MAX_ACCOUNTS, "{accounts} accounts");
        let mut counts: Vec<u64> = (KINDS.iter())
            .map(|&(_, share, _)| (accounts as f64 * share) as u64)
            .collect();
        counts[0] += accounts - counts.iter().sum::<u64>();
        let weight: f64 = (counts.iter().zip(KINDS))
            .map(|(&count, (_, _, per_day))| count as f64 * per_day)
            .sum();
        let scale = if weight > 0.0 {
            mean_per_day * accounts as f64 / weight
        } else {
            0.0
        };
        let mut kinds = Vec::with_capacity(KINDS.len());
        let (mut first_rank, mut events) = (0, 0.0);
        for (count, (_, _, per_day)) in counts.into_iter().zip(KINDS) {
            events += count as f64 * per_day * scale;
            kinds.push(Kind {
                first_rank,
                count,
                per_day: per_day * scale,
                events_up_to: events,
            });
            first_rank += count;
        }
        Population {
            accounts,
            kinds,
            events_per_day: events,
        }
    }

    /// The events of a day over all accounts, on average.
    pub fn events_per_day(&self) -> f64 {
        self.events_per_day
    }

    /// The account (index) of the next event: a kind by its share of the events, then one of
    /// its accounts, each alike.
    pub fn draw(&self, rng: &mut impl Rng) -> u64 {
        let at = rng.gen::<f64>() * self.events_per_day;
        let kind = (self.kinds.iter())
            .find(|k| k.count > 0 && at < k.events_up_to)
            .or_else(|| self.kinds.iter().rev().find(|k| k.count > 0))
            .expect("an event is drawn only when some account makes events");
        let rank = kind.first_rank + rng.gen_range(0..kind.count);
        self.account_of_rank(rank)
    }

    fn account_of_rank(&self, rank: u64) -> u64 {
        (u128::from(rank) * u128::from(SPREAD) % u128::from(self.accounts)) as u64
    }

    /// The name of account `account`'s kind and its mean events a day.
    pub fn kind_of(&self, account: u64) -> (&'static str, f64) {
        assert!(
            account < self.accounts,
            "account {account} of {}",
            self.accounts
        );
        let rank = (u128::from(account) * u128::from(inverse(SPREAD, self.accounts))
            % u128::from(self.accounts)) as u64;
        let (index, kind) = (self.kinds.iter().enumerate())
            .find(|(_, k)| rank < k.first_rank + k.count)
            .expect("every rank is of a kind");
        (KINDS[index].0, kind.per_day)
    }
}

/// `value`'s inverse modulo `modulus` (they are coprime).
fn inverse(value: u64, modulus: u64) -> u64 {
    if modulus == 1 {
        return 0;
    }
    let (mut old_r, mut r) = (i128::from(value % modulus), i128::from(modulus));
    let (mut old_s, mut s) = (1i128, 0i128);
    while r != 0 {
        let quotient = old_r / r;
        (old_r, r) = (r, old_r - quotient * r);
        (old_s, s) = (s, old_s - quotient * s);
    }
    assert_eq!(old_r, 1, "{value} and {modulus} are coprime");
    old_s.rem_euclid(i128::from(modulus)) as u64
}

#[cfg(test)]
mod tests {
    use super::{Population, KINDS};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Ranks spread over accounts one to one, and each account's kind is the one its draws
    /// come from.
    #[test]
    fn every_account_is_of_one_kind_and_the_kinds_keep_their_shares() {
        for accounts in [1, 7, 10, 101, 1000, 12_345] {
            let population = Population::new(accounts, 8.0);
            let mut seen = vec![false; accounts as usize];
            for rank in 0..accounts {
                let account = population.account_of_rank(rank);
                assert!(!seen[account as usize], "account {account} twice");
                seen[account as usize] = true;
            }
            let heavy = (0..accounts)
                .filter(|&a| population.kind_of(a).0 == "heavy")
                .count() as u64;
            assert_eq!(heavy, (accounts as f64 * KINDS[3].1) as u64, "{accounts}");
        }
    }

    /// Drawn accounts make their kinds' events: the heavy percent make about a fifth of them,
    /// and the mean is the one asked for.
    #[test]
    fn draws_follow_the_kinds_events_a_day() {
        let population = Population::new(10_000, 8.0);
        assert!((population.events_per_day() - 80_000.0).abs() < 1e-6);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let draws = 400_000;
        let mut by_kind = std::collections::BTreeMap::<&str, u64>::new();
        for _ in 0..draws {
            let account = population.draw(&mut rng);
            *by_kind.entry(population.kind_of(account).0).or_default() += 1;
        }
        for (name, share, per_day) in KINDS {
            let expected = share * per_day * 8.0 / 7.95;
            let got = by_kind[name] as f64 / f64::from(draws) * 8.0;
            assert!(
                (got - expected).abs() < 0.05 * expected,
                "{name}: {got} of 8 events a day, expected {expected}"
            );
        }
    }

    #[test]
    fn no_accounts_or_no_events_make_no_events() {
        assert_eq!(Population::new(0, 8.0).events_per_day(), 0.0);
        assert_eq!(Population::new(100, 0.0).events_per_day(), 0.0);
    }
}
