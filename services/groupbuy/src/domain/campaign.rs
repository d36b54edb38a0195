//! A campaign (stream type `campaign`, id = campaign id): launched by a verified merchant,
//! paused, resumed, ended; a tipping campaign tips once or fails at its end.
//!
//! Per-join facts (stock, buyers) are not appended here: the campaign stream stays short and
//! joins never contend on it.

use rust_decimal::Decimal;
use tuan_eventstore::{Aggregate, event_enum};
use tuan_kernel::{Currency, Money, text::Bounds};
use uuid::Uuid;

use super::{
    error::{GroupBuyError, invalid},
    events as pb,
    names::named,
};

event_enum! {
    pub enum CampaignEvent {
        Launched(pb::CampaignLaunched),
        Paused(pb::CampaignPaused),
        Resumed(pb::CampaignResumed),
        Ended(pb::CampaignEnded),
        Tipped(pb::CampaignTipped),
        TippingFailed(pb::CampaignTippingFailed),
    }
}

pub const MIN_TEAM_SIZE: u32 = 2;
pub const MAX_TEAM_SIZE: u32 = 50;
pub const DEFAULT_TEAM_SIZE: u32 = 2;
pub const DEFAULT_TEAM_WINDOW_SECS: u64 = 24 * 3600;
/// Short windows exist for tests and flash deals; a second is the floor.
pub const MIN_TEAM_WINDOW_SECS: u64 = 1;
pub const MAX_TEAM_WINDOW_SECS: u64 = 30 * 24 * 3600;
pub const MAX_STOCK: u32 = 10_000_000;
/// Stock is split into up to this many rows so concurrent buyers rarely wait on one another.
pub const MAX_STOCK_BUCKETS: u32 = 16;
const MICROS: i64 = 1_000_000;
/// Far above any real price (the console checks the same); keeps sums far from overflow.
pub const MAX_PRICE: i64 = 100_000_000;

tuan_kernel::text_type!(
    /// A campaign's title: 1 to 100 characters, one line.
    pub Title, "title", Bounds::line(1, 100));
tuan_kernel::text_type!(
    /// What the merchant says of the deal: up to 2,000 characters, line breaks allowed.
    pub Description, "description", Bounds::lines(0, 2000));

/// A price field of the launch request: a plain decimal in the campaign's currency, positive
/// unless `allow_zero`, at most [`MAX_PRICE`]; the error names the field.
fn price(field: &str, text: &str, currency: Currency, allow_zero: bool) -> Result<Money, GroupBuyError> {
    let text = text.trim();
    let parsed = if allow_zero { Money::parse(text, currency) } else { Money::parse_positive(text, currency) };
    let money = parsed.map_err(|e| invalid(format!("{field}: {e}")))?;
    if money.amount() > Decimal::from(MAX_PRICE) {
        return Err(invalid(format!("{field} is too large")));
    }
    Ok(money)
}

/// The width of one bar of a campaign's join history: a sixtieth of its length, in whole
/// seconds, at least one, so a chart of any campaign has at most about 60 points.
pub fn history_bucket_micros(starts_at_micros: i64, ends_at_micros: i64) -> i64 {
    let length = (ends_at_micros - starts_at_micros).max(0);
    let sixtieth = (length / 60 + MICROS - 1) / MICROS * MICROS;
    sixtieth.max(MICROS)
}

/// How buyers get the group price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Pinduoduo style: teams of `size` within `window_secs`; the leader pays `discount` less.
    Team { size: u32, window_secs: u64, leader_discount: Money },
    /// Groupon style: the deal is on once `min_buyers` committed before the end.
    Tipping { min_buyers: u32 },
}

impl Mode {
    pub fn kind(&self) -> ModeKind {
        match self {
            Mode::Team { .. } => ModeKind::Team,
            Mode::Tipping { .. } => ModeKind::Tipping,
        }
    }

    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

/// A [`Mode`] without its settings: what a campaign's read model says of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModeKind {
    Team,
    Tipping,
}

named!(ModeKind, "campaign mode", { Team => "team", Tipping => "tipping" });

/// The unchecked launch request.
#[derive(Clone, Debug, Default)]
pub struct LaunchInput {
    pub title: String,
    pub description: String,
    pub list_price: String,
    pub group_price: String,
    pub currency: String,
    pub stock: u32,
    pub per_user_limit: u32,
    pub starts_at_micros: i64,
    pub ends_at_micros: i64,
    /// None when the request named no mode.
    pub team: Option<TeamInput>,
    pub tipping: Option<u32>,
}

/// The team part of a launch request, unchecked; zeros and an empty discount mean the defaults.
#[derive(Clone, Debug, Default)]
pub struct TeamInput {
    pub size: u32,
    pub window_secs: u64,
    pub leader_discount: String,
}

/// A checked campaign definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignSpec {
    pub title: Title,
    pub description: Description,
    pub list_price: Money,
    pub group_price: Money,
    pub stock: u32,
    pub per_user_limit: u32,
    pub starts_at_micros: i64,
    pub ends_at_micros: i64,
    pub mode: Mode,
}

impl CampaignSpec {
    pub fn parse(input: &LaunchInput, now_micros: i64) -> Result<Self, GroupBuyError> {
        let title = Title::parse(&input.title)?;
        let description = Description::parse(&input.description)?;
        let currency = Currency::parse(input.currency.trim())?;
        let list_price = price("list_price", &input.list_price, currency, false)?;
        let group_price = price("group_price", &input.group_price, currency, false)?;
        if group_price.amount() > list_price.amount() {
            return Err(invalid("group_price must not be above list_price"));
        }
        if input.stock == 0 || input.stock > MAX_STOCK {
            return Err(invalid(format!("stock must be 1 to {MAX_STOCK}")));
        }
        let per_user_limit = if input.per_user_limit == 0 { 1 } else { input.per_user_limit };
        if per_user_limit > input.stock {
            return Err(invalid("per_user_limit must not exceed stock"));
        }
        let starts_at_micros = if input.starts_at_micros == 0 { now_micros } else { input.starts_at_micros };
        if starts_at_micros < 0 {
            return Err(invalid("starts_at must be a time"));
        }
        if input.ends_at_micros <= starts_at_micros {
            return Err(invalid("ends_at must be after starts_at"));
        }
        if input.ends_at_micros <= now_micros {
            return Err(invalid("ends_at must be in the future"));
        }
        let mode = match (&input.team, input.tipping) {
            (Some(_), Some(_)) => return Err(invalid("a campaign is either team or tipping, not both")),
            (None, None) => return Err(invalid("mode is required: team or tipping")),
            (Some(TeamInput { size, window_secs: window, leader_discount: discount }), None) => {
                let size = if *size == 0 { DEFAULT_TEAM_SIZE } else { *size };
                if !(MIN_TEAM_SIZE..=MAX_TEAM_SIZE).contains(&size) {
                    return Err(invalid(format!("team_size must be {MIN_TEAM_SIZE} to {MAX_TEAM_SIZE}")));
                }
                let window_secs = if *window == 0 { DEFAULT_TEAM_WINDOW_SECS } else { *window };
                if !(MIN_TEAM_WINDOW_SECS..=MAX_TEAM_WINDOW_SECS).contains(&window_secs) {
                    return Err(invalid(format!(
                        "team_window_secs must be {MIN_TEAM_WINDOW_SECS} to {MAX_TEAM_WINDOW_SECS}"
                    )));
                }
                let leader_discount = if discount.trim().is_empty() {
                    Money::zero(currency)
                } else {
                    price("leader_discount", discount, currency, true)?
                };
                if leader_discount.amount() >= group_price.amount() {
                    return Err(invalid("leader_discount must be below group_price"));
                }
                Mode::Team { size, window_secs, leader_discount }
            }
            (None, Some(min_buyers)) => {
                if min_buyers == 0 || min_buyers > input.stock {
                    return Err(invalid("min_buyers must be 1 to stock"));
                }
                Mode::Tipping { min_buyers }
            }
        };
        Ok(Self {
            title,
            description,
            list_price,
            group_price,
            stock: input.stock,
            per_user_limit,
            starts_at_micros,
            ends_at_micros: input.ends_at_micros,
            mode,
        })
    }

    /// What the leader pays (the group price less the leader discount).
    pub fn leader_price(&self) -> Money {
        match self.mode {
            Mode::Team { leader_discount, .. } => {
                self.group_price.checked_sub(leader_discount).unwrap_or(self.group_price)
            }
            Mode::Tipping { .. } => self.group_price,
        }
    }
}

/// How many stock rows a campaign gets, and how many units row `bucket` starts with.
pub fn bucket_count(stock: u32) -> u32 {
    stock.clamp(1, MAX_STOCK_BUCKETS)
}

pub fn bucket_stock(stock: u32, buckets: u32, bucket: u32) -> u32 {
    stock / buckets + u32::from(bucket < stock % buckets)
}

#[derive(Clone, Debug)]
pub enum CampaignCommand {
    Launch {
        campaign_id: Uuid,
        merchant_id: Uuid,
        spec: Box<CampaignSpec>,
    },
    Pause {
        by: Uuid,
    },
    Resume {
        by: Uuid,
    },
    /// `by` None: the end time was reached (the deadline scanner).
    End {
        by: Option<Uuid>,
    },
    /// The confirmed buyers reached the minimum (checked by the caller against the counter).
    Tip {
        confirmed_buyers: u32,
    },
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CampaignStatus {
    #[default]
    None,
    Active,
    Paused,
    Ended,
}

named!(CampaignStatus, "campaign status", { None => "none", Active => "active", Paused => "paused", Ended => "ended" });

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tipping {
    #[default]
    NotTipping,
    Pending,
    Tipped,
    Failed,
}

named!(Tipping, "tipping state", { NotTipping => "none", Pending => "pending", Tipped => "tipped", Failed => "failed" });

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Campaign {
    pub campaign_id: Option<Uuid>,
    pub merchant_id: Option<Uuid>,
    pub status: CampaignStatus,
    pub tipping: Tipping,
    pub min_buyers: u32,
    pub ends_at_micros: i64,
}

impl Campaign {
    fn owned_by(&self, user: Uuid) -> Result<(), GroupBuyError> {
        match (self.status, self.merchant_id) {
            (CampaignStatus::None, _) => Err(GroupBuyError::CampaignNotFound),
            (_, Some(m)) if m == user => Ok(()),
            _ => Err(GroupBuyError::NotOwner),
        }
    }

    fn id(&self) -> String {
        self.campaign_id.map(|c| c.to_string()).unwrap_or_default()
    }
}

impl Aggregate for Campaign {
    const STREAM_TYPE: &'static str = "campaign";
    type Event = CampaignEvent;
    type Command = CampaignCommand;
    type Error = GroupBuyError;

    fn handle(&self, command: CampaignCommand) -> Result<Vec<CampaignEvent>, GroupBuyError> {
        use CampaignStatus::*;
        match command {
            CampaignCommand::Launch { campaign_id, merchant_id, spec } => {
                if self.status != None {
                    return Err(GroupBuyError::CampaignExists);
                }
                let (team_size, team_window_secs, leader_discount, min_buyers) = match spec.mode {
                    Mode::Team { size, window_secs, leader_discount } => {
                        (size, window_secs, leader_discount.amount().to_string(), 0)
                    }
                    Mode::Tipping { min_buyers } => (0, 0, String::new(), min_buyers),
                };
                Ok(vec![CampaignEvent::Launched(pb::CampaignLaunched {
                    campaign_id: campaign_id.to_string(),
                    merchant_id: merchant_id.to_string(),
                    title: spec.title.to_string(),
                    description: spec.description.to_string(),
                    list_price: spec.list_price.amount().to_string(),
                    group_price: spec.group_price.amount().to_string(),
                    currency: spec.group_price.currency().code().to_string(),
                    stock: spec.stock,
                    per_user_limit: spec.per_user_limit,
                    starts_at_micros: spec.starts_at_micros,
                    ends_at_micros: spec.ends_at_micros,
                    mode: spec.mode.name().to_string(),
                    team_size,
                    team_window_secs,
                    leader_discount,
                    min_buyers,
                    buckets: bucket_count(spec.stock),
                })])
            }
            CampaignCommand::Pause { by } => {
                self.owned_by(by)?;
                match self.status {
                    Active => Ok(vec![CampaignEvent::Paused(pb::CampaignPaused {
                        campaign_id: self.id(),
                        by_user_id: by.to_string(),
                    })]),
                    Paused => Err(GroupBuyError::CampaignNotActive("paused")),
                    _ => Err(GroupBuyError::CampaignEnded),
                }
            }
            CampaignCommand::Resume { by } => {
                self.owned_by(by)?;
                match self.status {
                    Paused => Ok(vec![CampaignEvent::Resumed(pb::CampaignResumed {
                        campaign_id: self.id(),
                        by_user_id: by.to_string(),
                    })]),
                    Active => Err(GroupBuyError::NotPaused),
                    _ => Err(GroupBuyError::CampaignEnded),
                }
            }
            CampaignCommand::End { by } => {
                match by {
                    Some(by) => {
                        self.owned_by(by)?;
                        if self.status == Ended {
                            return Err(GroupBuyError::CampaignEnded);
                        }
                    }
                    Option::None if matches!(self.status, None | Ended) => return Ok(vec![]),
                    Option::None => {}
                }
                let mut events = Vec::new();
                if self.tipping == Tipping::Pending {
                    events.push(CampaignEvent::TippingFailed(pb::CampaignTippingFailed {
                        campaign_id: self.id(),
                        confirmed_buyers: 0,
                        min_buyers: self.min_buyers,
                    }));
                }
                let reason = if by.is_some() { "ended by merchant" } else { "end time reached" };
                events.push(CampaignEvent::Ended(pb::CampaignEnded { campaign_id: self.id(), reason: reason.into() }));
                Ok(events)
            }
            CampaignCommand::Tip { confirmed_buyers } => {
                if self.tipping != Tipping::Pending || self.status == Ended || confirmed_buyers < self.min_buyers {
                    return Ok(vec![]);
                }
                Ok(vec![CampaignEvent::Tipped(pb::CampaignTipped { campaign_id: self.id(), confirmed_buyers })])
            }
        }
    }

    fn apply(&mut self, event: &CampaignEvent) {
        match event {
            CampaignEvent::Launched(e) => {
                self.campaign_id = Uuid::parse_str(&e.campaign_id).ok();
                self.merchant_id = Uuid::parse_str(&e.merchant_id).ok();
                self.status = CampaignStatus::Active;
                self.min_buyers = e.min_buyers;
                self.ends_at_micros = e.ends_at_micros;
                self.tipping = if e.mode == "tipping" { Tipping::Pending } else { Tipping::NotTipping };
            }
            CampaignEvent::Paused(_) => self.status = CampaignStatus::Paused,
            CampaignEvent::Resumed(_) => self.status = CampaignStatus::Active,
            CampaignEvent::Ended(_) => self.status = CampaignStatus::Ended,
            CampaignEvent::Tipped(_) => self.tipping = Tipping::Tipped,
            CampaignEvent::TippingFailed(_) => self.tipping = Tipping::Failed,
        }
    }
}

/// Seconds from `now` to `at`, never negative.
pub fn seconds_left(at_micros: i64, now_micros: i64) -> i64 {
    ((at_micros - now_micros).max(0) + MICROS - 1) / MICROS
}

#[cfg(test)]
mod history_tests {
    use super::*;

    #[test]
    fn history_buckets_are_a_sixtieth_of_the_campaign_in_whole_seconds() {
        let hour = 3_600 * MICROS;
        assert_eq!(history_bucket_micros(0, hour), 60 * MICROS);
        assert_eq!(history_bucket_micros(0, 10 * MICROS), MICROS, "at least a second");
        assert_eq!(history_bucket_micros(0, 61 * MICROS), 2 * MICROS, "rounded up");
        assert_eq!(history_bucket_micros(5, 5), MICROS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_700_000_000_000_000;

    fn team_input() -> LaunchInput {
        LaunchInput {
            title: "Peaches".into(),
            list_price: "99".into(),
            group_price: "59.90".into(),
            currency: "CNY".into(),
            stock: 100,
            ends_at_micros: NOW + 3600 * MICROS,
            team: Some(TeamInput { size: 3, window_secs: 0, leader_discount: "5".into() }),
            ..Default::default()
        }
    }

    use tuan_eventstore::testing::run;

    #[test]
    fn a_valid_team_campaign_gets_defaults() {
        let spec = CampaignSpec::parse(&team_input(), NOW).unwrap();
        assert_eq!(spec.starts_at_micros, NOW);
        assert_eq!(spec.per_user_limit, 1);
        assert_eq!(spec.leader_price().amount().to_string(), "54.90");
        assert!(matches!(spec.mode, Mode::Team { size: 3, window_secs: DEFAULT_TEAM_WINDOW_SECS, .. }));
    }

    #[test]
    fn bad_specs_are_refused() {
        let bad = [
            LaunchInput { group_price: "120".into(), ..team_input() },
            LaunchInput {
                team: Some(TeamInput { size: 1, window_secs: 0, leader_discount: String::new() }),
                ..team_input()
            },
            LaunchInput {
                team: Some(TeamInput { size: 51, window_secs: 0, leader_discount: String::new() }),
                ..team_input()
            },
            LaunchInput { starts_at_micros: NOW + 7200 * MICROS, ..team_input() },
            LaunchInput { ends_at_micros: NOW - 1, ..team_input() },
            LaunchInput { stock: 0, ..team_input() },
            LaunchInput { per_user_limit: 101, ..team_input() },
            LaunchInput { team: None, ..team_input() },
            LaunchInput { team: None, tipping: Some(101), ..team_input() },
            LaunchInput {
                team: Some(TeamInput { size: 2, window_secs: 0, leader_discount: "59.90".into() }),
                ..team_input()
            },
            LaunchInput { title: " ".into(), ..team_input() },
        ];
        for input in bad {
            assert!(matches!(CampaignSpec::parse(&input, NOW), Err(GroupBuyError::InvalidInput(_))), "{input:?}");
        }
    }

    #[test]
    fn stock_buckets_sum_to_the_stock() {
        for stock in [1, 7, 16, 100, 1001] {
            let n = bucket_count(stock);
            assert_eq!((0..n).map(|b| bucket_stock(stock, n, b)).sum::<u32>(), stock);
        }
    }

    #[test]
    fn lifecycle_and_tipping() {
        let (id, merchant, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let input = LaunchInput { team: None, tipping: Some(2), ..team_input() };
        let spec = CampaignSpec::parse(&input, NOW).unwrap();
        let mut c = Campaign::default();
        run(&mut c, CampaignCommand::Launch { campaign_id: id, merchant_id: merchant, spec: Box::new(spec) }).unwrap();
        assert_eq!(run(&mut c, CampaignCommand::Pause { by: other }), Err(GroupBuyError::NotOwner));
        run(&mut c, CampaignCommand::Pause { by: merchant }).unwrap();
        assert_eq!(
            run(&mut c, CampaignCommand::Pause { by: merchant }),
            Err(GroupBuyError::CampaignNotActive("paused"))
        );
        run(&mut c, CampaignCommand::Resume { by: merchant }).unwrap();
        assert!(run(&mut c, CampaignCommand::Tip { confirmed_buyers: 1 }).unwrap().is_empty());
        assert_eq!(run(&mut c, CampaignCommand::Tip { confirmed_buyers: 2 }).unwrap().len(), 1);
        assert!(run(&mut c, CampaignCommand::Tip { confirmed_buyers: 3 }).unwrap().is_empty(), "tips once");
        let end = run(&mut c, CampaignCommand::End { by: None }).unwrap();
        assert_eq!(end.len(), 1, "a tipped campaign just ends");
        assert!(run(&mut c, CampaignCommand::End { by: None }).unwrap().is_empty());
    }

    #[test]
    fn an_untipped_campaign_fails_at_its_end() {
        let input = LaunchInput { team: None, tipping: Some(2), ..team_input() };
        let mut c = Campaign::default();
        let spec = CampaignSpec::parse(&input, NOW).unwrap();
        run(
            &mut c,
            CampaignCommand::Launch { campaign_id: Uuid::now_v7(), merchant_id: Uuid::now_v7(), spec: Box::new(spec) },
        )
        .unwrap();
        let events = run(&mut c, CampaignCommand::End { by: None }).unwrap();
        assert!(matches!(events[0], CampaignEvent::TippingFailed(_)));
        assert_eq!(c.tipping, Tipping::Failed);
    }
}
