//! Validated input values: parse once at the edge, then the type is proof.

use uuid::Uuid;

use tuan_kernel::text::Bounds;

use super::{CircleError, error::invalid, events as pb};

tuan_kernel::text_type!(
    /// 1 to 64 characters, one line.
    pub CircleName, "circle name", Bounds::line(1, 64));
tuan_kernel::text_type!(
    /// Up to 200 characters; may be empty.
    pub Topic, "topic", Bounds::lines(0, 200));
tuan_kernel::text_type!(
    /// 1 to 64 characters, one line.
    pub AccountName, "account name", Bounds::line(1, 64));
tuan_kernel::text_type!(
    /// Up to 500 characters.
    pub Description, "description", Bounds::lines(0, 500));
tuan_kernel::text_type!(
    /// The text of a post, moment or broadcast: up to 2,000 characters, and not empty unless a
    /// card is attached (checked by [`Content::parse`]).
    pub PostText, "text", Bounds::lines(0, 2000));

/// A shared deal or bill, kept as a reference. Live data (price, members, amounts) is shown
/// from projections of the group-buy and payments events, not stored here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DealCard {
    Campaign(Uuid),
    Team(Uuid),
    Bill(Uuid),
    Collection(Uuid),
}

impl DealCard {
    pub fn parse(card: &pb::DealCard) -> Result<Option<Self>, CircleError> {
        use pb::deal_card::Target;
        let id = |field: &str, value: &str| {
            Uuid::parse_str(value.trim()).map_err(|_| invalid(format!("card {field} must be a UUID, got {value:?}")))
        };
        Ok(match &card.target {
            None => None,
            Some(Target::CampaignId(v)) => Some(Self::Campaign(id("campaign_id", v)?)),
            Some(Target::TeamId(v)) => Some(Self::Team(id("team_id", v)?)),
            Some(Target::BillId(v)) => Some(Self::Bill(id("bill_id", v)?)),
            Some(Target::CollectionId(v)) => Some(Self::Collection(id("collection_id", v)?)),
        })
    }

    /// `(kind, id)` as stored in read models.
    pub fn parts(&self) -> (&'static str, Uuid) {
        match *self {
            Self::Campaign(id) => ("campaign", id),
            Self::Team(id) => ("team", id),
            Self::Bill(id) => ("bill", id),
            Self::Collection(id) => ("collection", id),
        }
    }

    pub fn from_parts(kind: &str, id: Uuid) -> Option<Self> {
        Some(match kind {
            "campaign" => Self::Campaign(id),
            "team" => Self::Team(id),
            "bill" => Self::Bill(id),
            "collection" => Self::Collection(id),
            _ => return None,
        })
    }

    pub fn to_proto(self) -> pb::DealCard {
        use pb::deal_card::Target;
        let target = match self {
            Self::Campaign(id) => Target::CampaignId(id.to_string()),
            Self::Team(id) => Target::TeamId(id.to_string()),
            Self::Bill(id) => Target::BillId(id.to_string()),
            Self::Collection(id) => Target::CollectionId(id.to_string()),
        };
        pb::DealCard { target: Some(target) }
    }
}

/// What a post, moment or broadcast carries: text, an optional card, not both empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    pub text: PostText,
    pub card: Option<DealCard>,
}

impl Content {
    pub fn parse(text: &str, card: Option<&pb::DealCard>) -> Result<Self, CircleError> {
        let text = PostText::parse(text)?;
        let card = card.map(DealCard::parse).transpose()?.flatten();
        if text.as_str().is_empty() && card.is_none() {
            return Err(invalid("a post needs text or a card"));
        }
        Ok(Self { text, card })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_limited_to_2000_characters_counted_as_characters() {
        assert!(PostText::parse(&"字".repeat(2000)).is_ok());
        assert!(PostText::parse(&"字".repeat(2001)).is_err());
    }

    #[test]
    fn content_needs_text_or_card() {
        assert!(Content::parse("  ", None).is_err());
        let card = DealCard::Bill(Uuid::now_v7()).to_proto();
        assert_eq!(Content::parse("", Some(&card)).unwrap().card, DealCard::parse(&card).unwrap());
        let bad = pb::DealCard { target: Some(pb::deal_card::Target::TeamId("nope".into())) };
        assert!(Content::parse("hi", Some(&bad)).is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(CircleName::parse("  Dinner  ").unwrap().as_str(), "Dinner");
        assert!(CircleName::parse(" ").is_err());
        assert!(CircleName::parse(&"x".repeat(65)).is_err());
    }
}
