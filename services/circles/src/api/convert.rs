//! Read models and domain values to protobuf, and back for cursors and enums.

use chrono::{DateTime, Utc};
use tuan_proto::circles::v1 as pb;
use tuan_runtime::{ApiError, paging::bad_cursor};
use uuid::Uuid;

use crate::{
    app::BroadcastReceipt,
    domain::{
        card::{CampaignStatus, CollectionStatus, TeamStatus},
        circle::Kind,
        text::DealCard,
    },
    store::queries::{AccountRow, CardLive, CircleRow, ItemRow, MembershipRow},
};

pub fn kind(kind: pb::CircleKind) -> Result<Kind, ApiError> {
    match kind {
        pb::CircleKind::Group => Ok(Kind::Group),
        pb::CircleKind::Cluster => Ok(Kind::Cluster),
        pb::CircleKind::Unspecified => Err(ApiError::invalid("kind must be GROUP or CLUSTER")),
    }
}

fn kind_of(s: &str) -> pb::CircleKind {
    match s {
        "group" => pb::CircleKind::Group,
        "cluster" => pb::CircleKind::Cluster,
        _ => pb::CircleKind::Unspecified,
    }
}

fn role(s: &str) -> pb::Role {
    match s {
        "owner" => pb::Role::Owner,
        "admin" => pb::Role::Admin,
        "member" => pb::Role::Member,
        _ => pb::Role::Unspecified,
    }
}

/// The `memberships.status` a list filter asks for.
pub fn status_filter(state: pb::MembershipState) -> Result<&'static str, ApiError> {
    match state {
        pb::MembershipState::Unspecified | pb::MembershipState::Member => Ok("member"),
        pb::MembershipState::Invited => Ok("invited"),
        pb::MembershipState::AwaitingApproval => Ok("awaiting_approval"),
        pb::MembershipState::None => Err(ApiError::invalid("state NONE has nobody to list")),
    }
}

fn state(status: &str) -> pb::MembershipState {
    match status {
        "member" => pb::MembershipState::Member,
        "invited" => pb::MembershipState::Invited,
        "awaiting_approval" => pb::MembershipState::AwaitingApproval,
        _ => pb::MembershipState::None,
    }
}

pub fn circle(c: CircleRow) -> pb::Circle {
    pb::Circle {
        circle_id: c.circle_id.to_string(),
        name: c.name,
        kind: kind_of(&c.kind) as i32,
        topic: c.topic,
        owner_id: c.owner_id.to_string(),
        member_cap: c.member_cap.max(0) as u32,
        member_count: c.members.max(0) as u32,
        approval_required: c.approval_required,
        dissolved: c.dissolved,
        my_role: role(&c.my_role) as i32,
        muted: c.muted,
        created_at_micros: c.created_at.timestamp_micros(),
    }
}

pub fn membership(circle_id: Uuid, user_id: Uuid, m: Option<MembershipRow>) -> pb::Membership {
    match m {
        Some(m) => pb::Membership {
            circle_id: m.circle_id.to_string(),
            user_id: m.user_id.to_string(),
            state: state(&m.status) as i32,
            role: role(&m.role) as i32,
            muted: m.muted,
            invited_by: m.invited_by.map(|id| id.to_string()).unwrap_or_default(),
            since_micros: m.since.timestamp_micros(),
        },
        None => pb::Membership {
            circle_id: circle_id.to_string(),
            user_id: user_id.to_string(),
            state: pb::MembershipState::None as i32,
            ..Default::default()
        },
    }
}

fn card(item: &ItemRow) -> Option<pb::DealCard> {
    let (kind, id) = (item.card_kind.as_deref()?, item.card_id?);
    DealCard::from_parts(kind, id).map(DealCard::to_proto)
}

fn count(n: Option<i64>) -> u32 {
    n.unwrap_or(0).clamp(0, i64::from(u32::MAX)) as u32
}

fn id(id: Option<Uuid>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

fn campaign_status(s: Option<&str>) -> pb::CampaignCardStatus {
    match s.and_then(CampaignStatus::parse) {
        Some(CampaignStatus::Active) => pb::CampaignCardStatus::Active,
        Some(CampaignStatus::Paused) => pb::CampaignCardStatus::Paused,
        Some(CampaignStatus::Ended) => pb::CampaignCardStatus::Ended,
        Some(CampaignStatus::Tipped) => pb::CampaignCardStatus::Tipped,
        Some(CampaignStatus::TippingFailed) => pb::CampaignCardStatus::TippingFailed,
        None => pb::CampaignCardStatus::Unspecified,
    }
}

fn team_status(s: Option<&str>) -> pb::TeamCardStatus {
    match s.and_then(TeamStatus::parse) {
        Some(TeamStatus::Pending) => pb::TeamCardStatus::Pending,
        Some(TeamStatus::Open) => pb::TeamCardStatus::Open,
        Some(TeamStatus::Completed) => pb::TeamCardStatus::Completed,
        Some(TeamStatus::Expired) => pb::TeamCardStatus::Expired,
        Some(TeamStatus::Failed) => pb::TeamCardStatus::Failed,
        None => pb::TeamCardStatus::Unspecified,
    }
}

fn collection_status(s: Option<&str>) -> pb::CollectionCardStatus {
    match s.and_then(CollectionStatus::parse) {
        Some(CollectionStatus::Open) => pb::CollectionCardStatus::Open,
        Some(CollectionStatus::Closed) => pb::CollectionCardStatus::Closed,
        None => pb::CollectionCardStatus::Unspecified,
    }
}

/// The live view of the item's card, or None without a card or before its source arrived.
fn live(card_id: Option<Uuid>, l: CardLive) -> Option<pb::CardView> {
    use pb::card_view::View;
    let card_id = card_id?.to_string();
    let view = match l.live_kind.as_deref()? {
        "campaign" => View::Campaign(pb::CampaignCardView {
            campaign_id: card_id,
            title: l.live_title.unwrap_or_default(),
            group_price: l.live_group_price.unwrap_or_default(),
            list_price: l.live_list_price.unwrap_or_default(),
            currency: l.live_currency.unwrap_or_default(),
            stock_left: count(l.live_stock_left),
            status: campaign_status(l.live_status.as_deref()) as i32,
        }),
        "team" => View::Team(pb::TeamCardView {
            team_id: card_id,
            campaign_id: id(l.live_campaign_id),
            campaign_title: l.live_title.unwrap_or_default(),
            team_size: count(l.live_team_size),
            members: count(l.live_members),
            status: team_status(l.live_status.as_deref()) as i32,
            expires_at_micros: l.live_expires_at.map(|t| t.timestamp_micros()).unwrap_or_default(),
        }),
        "bill" => View::Bill(pb::BillCardView {
            bill_id: card_id,
            title: l.live_title.unwrap_or_default(),
            total: l.live_total.unwrap_or_default(),
            currency: l.live_currency.unwrap_or_default(),
            participants: count(l.live_participants),
        }),
        "collection" => View::Collection(pb::CollectionCardView {
            collection_id: card_id,
            bill_id: id(l.live_bill_id),
            paid_count: count(l.live_paid_count),
            participant_count: count(l.live_participants),
            status: collection_status(l.live_status.as_deref()) as i32,
            currency: l.live_currency.unwrap_or_default(),
        }),
        _ => return None,
    };
    Some(pb::CardView {
        view: Some(view),
        updated_at_micros: l.live_updated_at.map(|t| t.timestamp_micros()).unwrap_or_default(),
    })
}

pub fn post(p: ItemRow) -> pb::Post {
    pb::Post {
        card: card(&p),
        live: live(p.card_id, p.live),
        post_id: p.id.to_string(),
        circle_id: p.parent_id.to_string(),
        author_id: p.author_id.to_string(),
        text: p.text,
        created_at_micros: p.created_at.timestamp_micros(),
    }
}

pub fn moment(m: ItemRow) -> pb::Moment {
    pb::Moment {
        card: card(&m),
        live: live(m.card_id, m.live),
        moment_id: m.id.to_string(),
        author_id: m.author_id.to_string(),
        text: m.text,
        created_at_micros: m.created_at.timestamp_micros(),
    }
}

pub fn inbox_item(i: ItemRow) -> pb::InboxItem {
    pb::InboxItem {
        card: card(&i),
        live: live(i.card_id, i.live),
        broadcast_id: i.id.to_string(),
        account_id: i.parent_id.to_string(),
        account_name: i.source_name,
        text: i.text,
        created_at_micros: i.created_at.timestamp_micros(),
    }
}

pub fn account(a: AccountRow, broadcasts_this_month: u32, quota: u32) -> pb::PublicAccount {
    pb::PublicAccount {
        account_id: a.account_id.to_string(),
        owner_id: a.owner_id.to_string(),
        name: a.name,
        description: a.description,
        follower_count: a.followers.max(0) as u32,
        broadcasts_this_month,
        broadcast_quota: quota,
        created_at_micros: a.created_at.timestamp_micros(),
    }
}

pub fn receipt(r: BroadcastReceipt) -> pb::BroadcastResponse {
    pb::BroadcastResponse {
        broadcast_id: r.broadcast_id.to_string(),
        account_id: r.account_id.to_string(),
        sent_this_month: r.sent_this_month,
        quota: r.quota,
    }
}

/// `<created_at micros>_<id>` of the last item on a page.
pub fn item_cursor(item: &ItemRow) -> String {
    format!("{}_{}", item.created_at.timestamp_micros(), item.id)
}

pub fn parse_item_cursor(cursor: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    tuan_runtime::paging::parse_time_cursor(cursor)
}

pub fn parse_id_cursor(cursor: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(cursor).map_err(|_| bad_cursor())
}
