//! Campaigns, teams and wallets.

use serde_json::json;
use tuan_proto::{
    groupbuy::v1::{self as gb, group_buy_service_client::GroupBuyServiceClient},
    payments::v1::{self as pay, payments_service_client::PaymentsServiceClient},
};

use crate::{
    ctl::{Ctl, connect, status},
    output::*,
};

impl Ctl {
    pub(crate) async fn campaign(&self, id: &str) -> anyhow::Result<()> {
        let mut groupbuy = GroupBuyServiceClient::new(connect(&self.groupbuy_addr).await?);
        let r = || gb::CampaignRef { campaign_id: id.to_string() };
        let c = groupbuy.get_campaign(self.authed(r())).await.map_err(status)?.into_inner();
        // The figures are the merchant's; operators may not be allowed them.
        let stats = groupbuy.get_campaign_stats(self.authed(r())).await.ok().map(|s| s.into_inner());
        if self.json {
            print_json(&json!({
                "campaign_id": c.campaign_id, "merchant_id": c.merchant_id, "title": c.title,
                "status": format!("{:?}", c.status()), "mode": format!("{:?}", c.mode()),
                "list_price": c.list_price, "group_price": c.group_price, "currency": c.currency,
                "stock": c.stock, "stock_left": c.stock_left, "team_size": c.team_size,
                "min_buyers": c.min_buyers, "confirmed_buyers": c.confirmed_buyers,
                "starts_at": when(c.starts_at_micros), "ends_at": when(c.ends_at_micros),
                "stats": stats.as_ref().map(|s| json!({
                    "teams_opened": s.teams_opened, "teams_completed": s.teams_completed,
                    "teams_failed": s.teams_failed, "buyers": s.buyers, "units_sold": s.units_sold,
                    "units_pending": s.units_pending, "revenue": s.revenue,
                })),
            }));
        } else {
            println!("campaign   {} ({:?}, {:?})", c.campaign_id, c.status(), c.mode());
            println!("title      {}", c.title);
            println!("merchant   {}", c.merchant_id);
            println!("price      {} {} (list {})", c.group_price, c.currency, c.list_price);
            println!("stock      {} left of {}", c.stock_left, c.stock);
            println!("window     {} .. {}", when(c.starts_at_micros), when(c.ends_at_micros));
            if let Some(s) = stats {
                println!(
                    "teams      {} opened, {} completed, {} failed; {} units sold, {} pending; revenue {} {}",
                    s.teams_opened,
                    s.teams_completed,
                    s.teams_failed,
                    s.units_sold,
                    s.units_pending,
                    s.revenue,
                    s.currency
                );
            }
        }
        Ok(())
    }

    pub(crate) async fn team(&self, id: &str) -> anyhow::Result<()> {
        let mut groupbuy = GroupBuyServiceClient::new(connect(&self.groupbuy_addr).await?);
        let t = groupbuy.get_team(self.authed(gb::TeamRef { team_id: id.to_string() })).await.map_err(status)?;
        let t = t.into_inner();
        if self.json {
            print_json(&json!({
                "team_id": t.team_id, "campaign_id": t.campaign_id, "leader_id": t.leader_id,
                "status": format!("{:?}", t.status()), "team_size": t.team_size, "confirmed": t.confirmed,
                "expires_at": when(t.expires_at_micros), "opened_at": when(t.opened_at_micros), "reason": t.reason,
                "members": t.members.iter().map(|m| json!({
                    "user_id": m.user_id, "join_id": m.join_id, "status": format!("{:?}", m.status()),
                    "leader": m.leader, "joined_at": when(m.joined_at_micros),
                })).collect::<Vec<_>>(),
            }));
        } else {
            println!("team       {} ({:?}) of campaign {}", t.team_id, t.status(), t.campaign_id);
            println!("members    {}/{} ({} confirmed)", t.members.len(), t.team_size, t.confirmed);
            println!("expires    {}", when(t.expires_at_micros));
            if !t.reason.is_empty() {
                println!("reason     {}", t.reason);
            }
            let rows: Vec<Vec<String>> = t
                .members
                .iter()
                .map(|m| {
                    vec![
                        m.user_id.clone(),
                        m.join_id.clone(),
                        format!("{:?}", m.status()),
                        if m.leader { "leader".into() } else { String::new() },
                        when(m.joined_at_micros),
                    ]
                })
                .collect();
            table(&["USER", "JOIN", "STATUS", "", "JOINED"], &rows);
        }
        Ok(())
    }

    pub(crate) async fn wallet(&self, user: &str) -> anyhow::Result<()> {
        // `me` (or no id): the operator's own wallet; anyone else's needs the operator role,
        // which payments checks.
        let user_id = match user {
            "me" => String::new(),
            who => self.user_id(&mut self.users().await?, who).await?,
        };
        let mut payments = PaymentsServiceClient::new(connect(&self.payments_addr).await?);
        let request = pay::GetWalletRequest { user_id };
        let w = payments.get_wallet(self.authed(request)).await.map_err(status)?.into_inner();
        if self.json {
            print_json(&json!({
                "user_id": w.user_id,
                "balances": w.balances.iter().map(|b| json!({"currency": b.currency, "available": b.available, "held": b.held})).collect::<Vec<_>>(),
                "open_holds": w.open_holds.iter().map(|h| json!({
                    "hold_id": h.hold_id, "amount": h.amount, "remaining": h.remaining, "currency": h.currency,
                    "merchant_id": h.merchant_id, "campaign_id": h.campaign_id, "team_id": h.team_id,
                    "status": format!("{:?}", h.status()), "expires_at": when(h.expires_at_micros),
                })).collect::<Vec<_>>(),
            }));
        } else {
            println!("wallet of {}", w.user_id);
            let rows: Vec<Vec<String>> =
                w.balances.iter().map(|b| vec![b.currency.clone(), b.available.clone(), b.held.clone()]).collect();
            if rows.is_empty() {
                println!("no balances");
            } else {
                table(&["CURRENCY", "AVAILABLE", "HELD"], &rows);
            }
            println!("{} open holds", w.open_holds.len());
            let holds: Vec<Vec<String>> = w
                .open_holds
                .iter()
                .map(|h| {
                    vec![
                        h.hold_id.clone(),
                        format!("{} {}", h.remaining, h.currency),
                        h.campaign_id.clone(),
                        when(h.expires_at_micros),
                    ]
                })
                .collect();
            if !holds.is_empty() {
                table(&["HOLD", "REMAINING", "CAMPAIGN", "EXPIRES"], &holds);
            }
        }
        Ok(())
    }
}
