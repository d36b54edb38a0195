//! The group-buy (`tuan.groupbuy.v1`) and payments (`tuan.payments.v1`) events behind the live
//! deal cards (see `store::cards`).

use futures::{FutureExt, future::BoxFuture};
use sqlx::PgConnection;
use tuan_messaging::{EventHandler, Events, HandlerError, envelope::occurred_at};
use tuan_proto::{events::v1::EventEnvelope, groupbuy::v1 as gb, payments::v1 as pay};

use crate::{
    domain::card::{CampaignStatus, TeamStatus},
    store::cards::{self, Step},
};

/// Campaigns, teams and joins from group-buy; bills and collections from payments.
#[derive(Clone, Copy, Debug, Default)]
pub struct CardsFeed;

tuan_messaging::events! {
    /// The group-buy events a card shows. Holds, captures and releases change nothing on one.
    enum GroupBuyCard {
        CampaignLaunched(gb::CampaignLaunched),
        CampaignPaused(gb::CampaignPaused),
        CampaignResumed(gb::CampaignResumed),
        CampaignEnded(gb::CampaignEnded),
        CampaignTipped(gb::CampaignTipped),
        CampaignTippingFailed(gb::CampaignTippingFailed),
        JoinRequested(gb::JoinRequested),
        JoinStockReturned(gb::JoinStockReturned),
        TeamOpened(gb::TeamOpened),
        TeamMemberJoined(gb::TeamMemberJoined),
        TeamMemberConfirmed(gb::TeamMemberConfirmed),
        TeamMemberLeft(gb::TeamMemberLeft),
        TeamMemberDropped(gb::TeamMemberDropped),
        TeamLeaderChanged(gb::TeamLeaderChanged),
        TeamCompleted(gb::TeamCompleted),
        TeamExpired(gb::TeamExpired),
        TeamFailed(gb::TeamFailed),
    }
}

tuan_messaging::events! {
    /// The payments events a card shows. Ledger, holds, top-ups, withdrawals and reminders
    /// change nothing on one.
    enum PaymentsCard {
        BillRecorded(pay::BillRecorded),
        CollectionOpened(pay::CollectionOpened),
        CollectionPaid(pay::CollectionPaid),
        CollectionClosed(pay::CollectionClosed),
    }
}

tuan_messaging::events! {
    /// Every event [`CardsFeed`] applies: one list for `wants` and `handle`.
    enum CardEvent {
        ..GroupBuy(GroupBuyCard),
        ..Payments(PaymentsCard),
    }
}

impl EventHandler for CardsFeed {
    fn handle<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        envelope: &'a EventEnvelope,
    ) -> BoxFuture<'a, Result<(), HandlerError>> {
        async move {
            let at = occurred_at(envelope)?;
            let step = Step { version: i64::try_from(envelope.version).unwrap_or(i64::MAX), at };
            match CardEvent::decode(envelope)? {
                Some(CardEvent::GroupBuy(event)) => groupbuy(conn, event, step).await,
                Some(CardEvent::Payments(event)) => payments(conn, event, step).await,
                None => Ok(()),
            }
        }
        .boxed()
    }

    fn wants(&self, event_type: &str) -> bool {
        CardEvent::wants(event_type)
    }
}

async fn groupbuy(conn: &mut PgConnection, event: GroupBuyCard, step: Step) -> Result<(), HandlerError> {
    use GroupBuyCard as E;
    match event {
        E::CampaignLaunched(e) => cards::launch_campaign(conn, &e, step).await,
        E::CampaignPaused(e) => cards::set_campaign_status(conn, &e.campaign_id, CampaignStatus::Paused, step).await,
        E::CampaignResumed(e) => cards::set_campaign_status(conn, &e.campaign_id, CampaignStatus::Active, step).await,
        E::CampaignEnded(e) => cards::set_campaign_status(conn, &e.campaign_id, CampaignStatus::Ended, step).await,
        E::CampaignTipped(e) => cards::set_campaign_status(conn, &e.campaign_id, CampaignStatus::Tipped, step).await,
        E::CampaignTippingFailed(e) => {
            cards::set_campaign_status(conn, &e.campaign_id, CampaignStatus::TippingFailed, step).await
        }
        E::JoinRequested(e) => cards::take_unit(conn, &e, step).await,
        E::JoinStockReturned(e) => cards::return_unit(conn, &e, step).await,
        E::TeamOpened(e) => cards::open_team(conn, &e, step).await,
        E::TeamMemberJoined(e) => cards::add_team_member(conn, &e.team_id, step).await,
        E::TeamMemberConfirmed(e) => cards::confirm_team_member(conn, &e, step).await,
        E::TeamMemberLeft(e) => cards::remove_team_member(conn, &e.team_id, step).await,
        E::TeamMemberDropped(e) => cards::remove_team_member(conn, &e.team_id, step).await,
        E::TeamLeaderChanged(e) => cards::change_team_leader(conn, &e, step).await,
        E::TeamCompleted(e) => cards::set_team_status(conn, &e.team_id, TeamStatus::Completed, step).await,
        E::TeamExpired(e) => cards::set_team_status(conn, &e.team_id, TeamStatus::Expired, step).await,
        E::TeamFailed(e) => cards::set_team_status(conn, &e.team_id, TeamStatus::Failed, step).await,
    }
}

async fn payments(conn: &mut PgConnection, event: PaymentsCard, step: Step) -> Result<(), HandlerError> {
    match event {
        PaymentsCard::BillRecorded(e) => cards::record_bill(conn, &e, step).await,
        PaymentsCard::CollectionOpened(e) => cards::open_collection(conn, &e, step).await,
        PaymentsCard::CollectionPaid(e) => cards::count_collection_payment(conn, &e.collection_id, step).await,
        PaymentsCard::CollectionClosed(e) => cards::close_collection(conn, &e.collection_id, step).await,
    }
}
