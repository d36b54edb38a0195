//! Charity campaigns (stream `charity_campaign`). Donations are journal entries of kind
//! `donation` into the campaign's account; the running total and donor count are projections.

use tuan_eventstore::{Aggregate, event_enum};
use uuid::Uuid;

use super::{Currency, Money, MoneyError, PaymentError, bill::Title, events as pb};

event_enum! {
    pub enum CharityEvent {
        Created(pb::CharityCampaignCreated),
    }
}

#[derive(Clone, Debug)]
pub struct CreateCampaign {
    pub campaign_id: Uuid,
    pub organiser: Uuid,
    pub title: Title,
    pub description: Description,
    pub currency: Currency,
    pub goal: Option<Money>,
}

tuan_kernel::text_type!(
    /// What a charity campaign is for: up to 2,000 characters, line breaks allowed.
    pub Description, "description", tuan_kernel::text::Bounds::lines(0, 2_000));

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CharityCampaign {
    pub created: bool,
    pub currency: Option<Currency>,
}

impl Aggregate for CharityCampaign {
    const STREAM_TYPE: &'static str = "charity_campaign";
    type Event = CharityEvent;
    type Command = CreateCampaign;
    type Error = PaymentError;

    fn handle(&self, c: CreateCampaign) -> Result<Vec<CharityEvent>, PaymentError> {
        if self.created {
            return Err(PaymentError::AlreadyExists("campaign exists already".into()));
        }
        if let Some(goal) = c.goal {
            Money::new(goal.amount(), c.currency)?;
            if goal.currency() != c.currency {
                return Err(PaymentError::Money(MoneyError::CurrencyMismatch {
                    expected: c.currency,
                    found: goal.currency(),
                }));
            }
        }
        Ok(vec![CharityEvent::Created(pb::CharityCampaignCreated {
            campaign_id: c.campaign_id.to_string(),
            organiser_id: c.organiser.to_string(),
            title: c.title.as_str().to_string(),
            description: c.description.into_string(),
            currency: c.currency.code().to_string(),
            goal: c.goal.map(|g| g.amount().to_string()).unwrap_or_default(),
        })])
    }

    fn apply(&mut self, event: &CharityEvent) {
        let CharityEvent::Created(e) = event;
        self.created = true;
        self.currency = Currency::parse(&e.currency).ok();
    }
}
