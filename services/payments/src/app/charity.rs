//! Charity campaigns and donations.

use sqlx::PgConnection;
use tuan_eventstore::EventMeta;
use tuan_messaging::social;
use tuan_proto::payments::v1 as pb;
use tuan_runtime::{
    ApiError,
    auth::{Caller, ROLE_MERCHANT, ROLE_OPERATOR},
};
use uuid::Uuid;

use super::{PaymentsApp, command_error};
use crate::{
    domain::{
        Currency, JournalEntry, Money, PaymentError,
        charity::CreateCampaign,
        journal::{EntryKind, PostEntry},
    },
    store::{
        idempotency::IdempotencyKey,
        queries::{self, CampaignRow},
    },
};

pub fn campaign_view(c: &CampaignRow) -> pb::CharityCampaign {
    pb::CharityCampaign {
        campaign_id: c.campaign_id.to_string(),
        organiser_id: c.organiser_id.to_string(),
        title: c.title.clone(),
        description: c.description.clone(),
        currency: c.currency.clone(),
        goal: c.goal.clone(),
        raised: c.raised.to_string(),
        donor_count: c.donor_count as u64,
        donation_count: c.donation_count as u64,
        created_at_micros: c.created_at.timestamp_micros(),
    }
}

impl PaymentsApp {
    /// Operators and verified merchants create campaigns.
    pub async fn create_campaign(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        create: CreateCampaign,
        key: &IdempotencyKey,
    ) -> Result<pb::CharityCampaign, ApiError> {
        let me = caller.user_id;
        let privileged = caller.has_role(ROLE_OPERATOR) || caller.has_role(ROLE_MERCHANT);
        tuan_eventstore::once!(&self.pool, me, key, |conn| async {
            if !privileged && !social::is_verified_merchant(&mut *conn, me).await? {
                return Err(PaymentError::Forbidden(
                    "only operators and verified merchants may create campaigns".into(),
                )
                .into());
            }
            self.create_campaign_in(conn, meta, create.clone()).await
        })
    }

    async fn create_campaign_in(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        create: CreateCampaign,
    ) -> Result<pb::CharityCampaign, ApiError> {
        let id = create.campaign_id;
        self.campaigns.run_in(conn, id, meta, create).await.map_err(command_error)?;
        let row = queries::campaign(conn, id)
            .await?
            .ok_or_else(|| ApiError::internal("campaign row missing after create"))?;
        Ok(campaign_view(&row))
    }

    /// A donation from the caller's wallet; `amount` is parsed in the campaign's currency.
    pub async fn donate(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        campaign: Uuid,
        amount: &str,
        key: &IdempotencyKey,
    ) -> Result<pb::DonationReceipt, ApiError> {
        let me = caller.user_id;
        tuan_eventstore::once!(&self.pool, me, key, |conn| self.donate_in(conn, meta, me, campaign, amount))
    }

    async fn donate_in(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        me: Uuid,
        campaign: Uuid,
        amount: &str,
    ) -> Result<pb::DonationReceipt, ApiError> {
        let row = queries::campaign(conn, campaign).await?.ok_or(PaymentError::NotFound("campaign"))?;
        let currency = Currency::parse(&row.currency).map_err(ApiError::internal)?;
        let amount = Money::parse_positive(amount, currency).map_err(ApiError::from)?;
        let entry = JournalEntry::donation(me, campaign, amount).map_err(ApiError::from)?;
        let post = PostEntry::new(EntryKind::Donation, entry).initiator(me).reference(campaign);
        let entry_id = post.entry_id;
        self.post(conn, meta, post).await?;
        Ok(pb::DonationReceipt {
            entry_id: entry_id.to_string(),
            campaign_id: campaign.to_string(),
            amount: amount.amount().to_string(),
            currency: currency.code().to_string(),
        })
    }

    pub async fn campaign(&self, campaign: Uuid) -> Result<pb::CharityCampaign, ApiError> {
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let row = queries::campaign(&mut conn, campaign).await?.ok_or(PaymentError::NotFound("campaign"))?;
        Ok(campaign_view(&row))
    }
}
