//! The input topics, whether read from Kafka or from a file read as the topics it would be
//! produced to, and the rule both merges share for a line that stands out of its topic.

/// The topic of an online request's line in the pipeline (`ratel online`). Kafka's topic
/// names cannot hold a colon, so no source's topic is this one. Its lines have no position in
/// any source: they are exactly-once by their ids.
pub const ONLINE_TOPIC: &str = "ratel:online";

/// Whether a line is an online request's.
pub fn is_online(topic: Option<&str>) -> bool {
    topic == Some(ONLINE_TOPIC)
}

/// Topic names. Inputs in the order that breaks event-time ties.
#[derive(Debug, Clone, clap::Args)]
pub struct Topics {
    /// Account commands: open_account, add_number, options, credit limits, report orders.
    #[arg(long, default_value = "ratel.commands")]
    pub commands_topic: String,
    /// Payments and promised-payment requests.
    #[arg(long, default_value = "ratel.payments")]
    pub payments_topic: String,
    /// Usage records (CDRs) from mediation.
    #[arg(long, default_value = "ratel.usage")]
    pub usage_topic: String,
    /// Every decision, keyed by account (output).
    #[arg(long, default_value = "ratel.charges")]
    pub charges_topic: String,
    /// Notifications to the subscriber (output).
    #[arg(long, default_value = "ratel.notifications")]
    pub notifications_topic: String,
    /// Input that could not be read, with its origin and reason (output).
    #[arg(long, default_value = "ratel.dead-letters")]
    pub dead_topic: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics {
            commands_topic: "ratel.commands".into(),
            payments_topic: "ratel.payments".into(),
            usage_topic: "ratel.usage".into(),
            charges_topic: "ratel.charges".into(),
            notifications_topic: "ratel.notifications".into(),
            dead_topic: "ratel.dead-letters".into(),
        }
    }
}

impl Topics {
    pub fn inputs(&self) -> [&str; 3] {
        [
            &self.commands_topic,
            &self.payments_topic,
            &self.usage_topic,
        ]
    }
    pub fn outputs(&self) -> [&str; 3] {
        [
            &self.charges_topic,
            &self.notifications_topic,
            &self.dead_topic,
        ]
    }
    /// The input topic (its rank in `inputs`) an input belongs on.
    pub fn rank_of(input: &rating::Input) -> usize {
        match input {
            rating::Input::Usage(_) => 2,
            rating::Input::Payment(_) | rating::Input::RequestPromise(_) => 1,
            _ => 0,
        }
    }
}

/// Whether a topic's head dated `head` is an outlier of its own topic: more than `max_ahead_s`
/// later than both the line given before it (if any) and the line after it. Such a line (a
/// clock years off upstream) would hold back every later line of its topic until it was the
/// earliest of its partition's heads, and they would come days late; it is given at once
/// instead, and dead-lettered (`Line::far_ahead`). A sparse topic's next line, rightly days
/// ahead of a dense topic's, is no outlier: the line after it is later still. Kafka's merge
/// follows the same rule.
pub fn outlier(head: i64, before: Option<i64>, after: Option<i64>, max_ahead_s: i64) -> bool {
    let far = |t: i64| head > t.saturating_add(max_ahead_s.saturating_mul(1000));
    after.is_some_and(far) && before.is_none_or(far)
}
