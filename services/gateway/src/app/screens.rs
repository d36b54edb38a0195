//! Home, CampaignDetail and Wallet: each asks its backends concurrently, every call within
//! the part budget and the client's deadline, and answers with what it got, naming the parts
//! it could not fill.

use std::collections::{HashMap, HashSet};

use futures::future::join_all;
use tonic::{Code, Status};
use tuan_proto::{
    circles::v1 as circles,
    common::v1::PageRequest,
    gateway::v1 as gw,
    groupbuy::v1 as gb,
    payments::v1::{self as pay, get_group_balances_request::Group},
    users::v1 as users,
};

use super::{
    GatewayApp,
    backends::{CallContext, Kind},
};
use crate::domain::screens::{
    BillGroup, DealTarget, Friends, deal_target, friend_teams, groups_of, is_filling, open_collection,
    team_with_friends, total_owed,
};

/// Bounds on how much one screen asks for.
const FRIENDS_PAGE: u32 = 200;
const CIRCLES_PAGE: u32 = 20;
const CIRCLES_WITH_POSTS: usize = 10;
const POSTS_PAGE: u32 = 10;
const CAMPAIGNS_PAGE: u32 = 20;
const CAMPAIGNS_WITH_TEAMS: usize = 15;
const TEAMS_PAGE: u32 = 50;
const BILLS_PAGE: u32 = 20;
const GROUPS: usize = 10;

fn page(limit: u32) -> Option<PageRequest> {
    Some(PageRequest { limit, cursor: String::new() })
}

/// Parts of a screen that could not be filled, in the order they were found.
#[derive(Default)]
struct Missing(Vec<String>);

impl Missing {
    fn mark(&mut self, part: &str) {
        if !self.0.iter().any(|p| p == part) {
            self.0.push(part.to_string());
        }
    }

    fn mark_if(&mut self, missing: bool, part: &str) {
        if missing {
            self.mark(part);
        }
    }
}

/// Deal cards in my circles and the group-buy facts behind them, plus candidate teams.
#[derive(Default)]
struct Deals {
    circles: Option<Vec<circles::Circle>>,
    deals: Vec<gw::SharedDeal>,
    deals_complete: bool,
    teams: Vec<gb::Team>,
    campaigns: HashMap<String, gb::Campaign>,
    teams_complete: bool,
}

impl GatewayApp {
    pub async fn home(&self, ctx: &CallContext, me: &str) -> gw::HomeScreen {
        let part = self.budgets.part;
        let wallet =
            self.payments.call(ctx, Kind::Read, part, pay::GetWalletRequest::default(), |mut c, r| async move {
                c.get_wallet(r).await
            });
        let (friends, wallet, (collections, collections_complete), deals) =
            tokio::join!(self.friends(ctx), wallet, self.open_collections(ctx, me), self.deals(ctx));

        let mut missing = Missing::default();
        missing.mark_if(deals.circles.is_none(), "circles");
        missing.mark_if(!deals.deals_complete, "deals");
        missing.mark_if(friends.is_err(), "friends");
        let friend_teams = match &friends {
            Ok(friends) => friend_teams(deals.teams, friends, me, &deals.campaigns),
            Err(_) => Vec::new(),
        };
        missing.mark_if(friends.is_err() || !deals.teams_complete, "friend_teams");
        missing.mark_if(!collections_complete, "collections");
        missing.mark_if(wallet.is_err(), "wallet");
        gw::HomeScreen {
            circles: deals.circles.unwrap_or_default(),
            friend_teams,
            shared_deals: deals.deals,
            i_owe: total_owed(&collections),
            collections,
            balances: wallet.map(|w| w.into_inner().balances).unwrap_or_default(),
            missing_parts: missing.0,
        }
    }

    pub async fn campaign_detail(
        &self,
        ctx: &CallContext,
        me: &str,
        campaign_id: String,
    ) -> Result<gw::CampaignDetailScreen, Status> {
        let part = self.budgets.part;
        let campaign = self.groupbuy.call(
            ctx,
            Kind::Read,
            part,
            gb::CampaignRef { campaign_id: campaign_id.clone() },
            |mut c, r| async move { c.get_campaign(r).await },
        );
        let teams = self.groupbuy.call(
            ctx,
            Kind::Read,
            part,
            gb::ListCampaignTeamsRequest { campaign_id, page: page(TEAMS_PAGE) },
            |mut c, r| async move { c.list_campaign_teams(r).await },
        );
        let (campaign, teams, friends) = tokio::join!(campaign, teams, self.friends(ctx));
        // A campaign that does not exist (or a bad id) is an answer, not a missing part.
        if let Err(status) = &campaign
            && matches!(status.code(), Code::NotFound | Code::InvalidArgument | Code::PermissionDenied)
        {
            return Err(status.clone());
        }
        let mut missing = Missing::default();
        missing.mark_if(campaign.is_err(), "campaign");
        missing.mark_if(teams.is_err(), "teams");
        missing.mark_if(friends.is_err(), "friends");
        let friends = friends.unwrap_or_default();
        let mut open: Vec<gb::Team> =
            teams.map(|t| t.into_inner().teams).unwrap_or_default().into_iter().filter(is_filling).collect();
        open.sort_by_key(|t| t.opened_at_micros);
        Ok(gw::CampaignDetailScreen {
            campaign: campaign.ok().map(|c| c.into_inner()),
            open_teams: open.into_iter().map(|t| team_with_friends(t, &friends, me)).collect(),
            missing_parts: missing.0,
        })
    }

    pub async fn wallet(&self, ctx: &CallContext, me: &str, statement_limit: u32) -> gw::WalletScreen {
        let part = self.budgets.part;
        let limit = match statement_limit {
            0 => 20,
            n => n.min(100),
        };
        let wallet =
            self.payments.call(ctx, Kind::Read, part, pay::GetWalletRequest::default(), |mut c, r| async move {
                c.get_wallet(r).await
            });
        let statement = self.payments.call(
            ctx,
            Kind::Read,
            part,
            pay::GetStatementRequest { page: page(limit), currency: String::new() },
            |mut c, r| async move { c.get_statement(r).await },
        );
        let (wallet, statement, (group_balances, groups_complete)) =
            tokio::join!(wallet, statement, self.group_balances(ctx, me));
        let mut missing = Missing::default();
        missing.mark_if(wallet.is_err(), "wallet");
        missing.mark_if(statement.is_err(), "statement");
        missing.mark_if(!groups_complete, "group_balances");
        let wallet = wallet.map(|w| w.into_inner()).unwrap_or_default();
        gw::WalletScreen {
            user_id: me.to_string(),
            balances: wallet.balances,
            open_holds: wallet.open_holds,
            recent_statement: statement.map(|s| s.into_inner().lines).unwrap_or_default(),
            group_balances,
            missing_parts: missing.0,
        }
    }

    /// The caller's friends (first page) by user id.
    async fn friends(&self, ctx: &CallContext) -> Result<Friends, Status> {
        let request = users::ListFriendsRequest { page: page(FRIENDS_PAGE) };
        let reply = self
            .users
            .call(ctx, Kind::Read, self.budgets.part, request, |mut c, r| async move { c.list_friends(r).await })
            .await?;
        Ok(reply.into_inner().friends.into_iter().filter_map(|f| f.profile).map(|p| (p.user_id.clone(), p)).collect())
    }

    /// The caller's recent bills (newest first).
    async fn recent_bills(&self, ctx: &CallContext) -> Result<Vec<pay::Bill>, Status> {
        let request = pay::ListBillsRequest { page: page(BILLS_PAGE), circle_id: String::new() };
        let reply = self
            .payments
            .call(ctx, Kind::Read, self.budgets.part, request, |mut c, r| async move { c.list_bills(r).await })
            .await?;
        Ok(reply.into_inner().bills)
    }

    /// Open collections of my recent bills; `false` when some could not be read.
    async fn open_collections(&self, ctx: &CallContext, me: &str) -> (Vec<gw::OpenCollection>, bool) {
        let Ok(bills) = self.recent_bills(ctx).await else { return (Vec::new(), false) };
        let lookups = bills.iter().map(|bill| {
            let request = pay::GetCollectionRequest { collection_id: bill.bill_id.clone() };
            self.payments
                .call(ctx, Kind::Read, self.budgets.part, request, |mut c, r| async move { c.get_collection(r).await })
        });
        let mut complete = true;
        let mut open = Vec::new();
        for (bill, result) in bills.iter().zip(join_all(lookups).await) {
            match result {
                Ok(collection) => open.extend(open_collection(collection.into_inner(), bill.title.clone(), me)),
                // No collection was opened for this bill.
                Err(status) if status.code() == Code::NotFound => {}
                Err(_) => complete = false,
            }
        }
        (open, complete)
    }

    /// Balances of the groups of my recent bills; `false` when some could not be read.
    async fn group_balances(&self, ctx: &CallContext, me: &str) -> (Vec<pay::GroupBalances>, bool) {
        let Ok(bills) = self.recent_bills(ctx).await else { return (Vec::new(), false) };
        let lookups = groups_of(&bills, me, GROUPS).into_iter().map(|group| {
            let group = match group {
                BillGroup::Circle(id) => Group::CircleId(id),
                BillGroup::Friend(id) => Group::FriendId(id),
            };
            let request = pay::GetGroupBalancesRequest { group: Some(group) };
            self.payments.call(ctx, Kind::Read, self.budgets.part, request, |mut c, r| async move {
                c.get_group_balances(r).await
            })
        });
        let results = join_all(lookups).await;
        let complete = results.iter().all(Result::is_ok);
        (results.into_iter().filter_map(Result::ok).map(|r| r.into_inner()).collect(), complete)
    }

    /// Deal cards posted in my circles, active campaigns, and the teams of both.
    async fn deals(&self, ctx: &CallContext) -> Deals {
        let part = self.budgets.part;
        let my_circles = self.circles.call(
            ctx,
            Kind::Read,
            part,
            circles::ListMyCirclesRequest { page: page(CIRCLES_PAGE) },
            |mut c, r| async move { c.list_my_circles(r).await },
        );
        let active = self.groupbuy.call(
            ctx,
            Kind::Read,
            part,
            gb::ListActiveCampaignsRequest { page: page(CAMPAIGNS_PAGE) },
            |mut c, r| async move { c.list_active_campaigns(r).await },
        );
        let (my_circles, active) = tokio::join!(my_circles, active);
        let mut out = Deals { deals_complete: my_circles.is_ok(), teams_complete: active.is_ok(), ..Deals::default() };
        let my_circles = my_circles.map(|r| r.into_inner().circles).ok();
        for campaign in active.map(|r| r.into_inner().campaigns).unwrap_or_default() {
            out.campaigns.insert(campaign.campaign_id.clone(), campaign);
        }

        // Deal cards of the most recent posts of my first circles.
        let listed = my_circles.iter().flatten().take(CIRCLES_WITH_POSTS).map(|circle| {
            let request = circles::ListPostsRequest { circle_id: circle.circle_id.clone(), page: page(POSTS_PAGE) };
            self.circles.call(ctx, Kind::Read, part, request, |mut c, r| async move { c.list_posts(r).await })
        });
        let names: HashMap<&str, &str> =
            my_circles.iter().flatten().map(|c| (c.circle_id.as_str(), c.name.as_str())).collect();
        let mut cards = Vec::new();
        for result in join_all(listed).await {
            match result {
                Ok(posts) => cards.extend(
                    posts.into_inner().posts.into_iter().filter_map(|p| deal_target(&p).map(|target| (p, target))),
                ),
                Err(_) => out.deals_complete = false,
            }
        }

        // The teams on cards, then the campaigns we still lack, and the teams of campaigns.
        let team_ids: Vec<String> = unique(cards.iter().filter_map(|(_, t)| match t {
            DealTarget::Team(id) => Some(id.clone()),
            DealTarget::Campaign(_) => None,
        }));
        let team_lookups = team_ids.iter().map(|id| {
            self.groupbuy.call(ctx, Kind::Read, part, gb::TeamRef { team_id: id.clone() }, |mut c, r| async move {
                c.get_team(r).await
            })
        });
        let mut card_teams: HashMap<String, gb::Team> = HashMap::new();
        for result in join_all(team_lookups).await {
            match result {
                Ok(team) => {
                    let team = team.into_inner();
                    card_teams.insert(team.team_id.clone(), team);
                }
                Err(status) if status.code() == Code::NotFound => {}
                Err(_) => (out.deals_complete, out.teams_complete) = (false, false),
            }
        }
        let card_campaigns = unique(
            cards
                .iter()
                .filter_map(|(_, t)| match t {
                    DealTarget::Campaign(id) => Some(id.clone()),
                    DealTarget::Team(_) => None,
                })
                .chain(card_teams.values().map(|t| t.campaign_id.clone())),
        );
        let unknown: Vec<String> =
            card_campaigns.iter().filter(|id| !out.campaigns.contains_key(*id)).cloned().collect();
        let campaign_lookups = unknown.iter().map(|id| {
            let request = gb::CampaignRef { campaign_id: id.clone() };
            self.groupbuy.call(ctx, Kind::Read, part, request, |mut c, r| async move { c.get_campaign(r).await })
        });
        let with_teams: Vec<String> = unique(card_campaigns.iter().cloned().chain(out.campaigns.keys().cloned()))
            .into_iter()
            .take(CAMPAIGNS_WITH_TEAMS)
            .collect();
        let teams_lookups = with_teams.iter().map(|id| {
            let request = gb::ListCampaignTeamsRequest { campaign_id: id.clone(), page: page(TEAMS_PAGE) };
            self.groupbuy.call(ctx, Kind::Read, part, request, |mut c, r| async move { c.list_campaign_teams(r).await })
        });
        let (campaigns, team_lists) = tokio::join!(join_all(campaign_lookups), join_all(teams_lookups));
        for result in campaigns {
            match result {
                Ok(campaign) => {
                    let campaign = campaign.into_inner();
                    out.campaigns.insert(campaign.campaign_id.clone(), campaign);
                }
                Err(status) if status.code() == Code::NotFound => {}
                Err(_) => out.deals_complete = false,
            }
        }
        for result in team_lists {
            match result {
                Ok(list) => out.teams.extend(list.into_inner().teams),
                Err(_) => out.teams_complete = false,
            }
        }
        out.teams.extend(card_teams.values().cloned());

        out.deals = cards
            .into_iter()
            .map(|(post, target)| {
                let team = match &target {
                    DealTarget::Team(id) => card_teams.get(id).cloned(),
                    DealTarget::Campaign(_) => None,
                };
                let campaign_id = match &target {
                    DealTarget::Campaign(id) => Some(id.as_str()),
                    DealTarget::Team(_) => team.as_ref().map(|t| t.campaign_id.as_str()),
                };
                gw::SharedDeal {
                    circle_name: names.get(post.circle_id.as_str()).map(|n| n.to_string()).unwrap_or_default(),
                    campaign: campaign_id.and_then(|id| out.campaigns.get(id)).cloned(),
                    team,
                    post: Some(post),
                }
            })
            .collect();
        out.circles = my_circles;
        out
    }
}

/// The distinct items, in first-seen order.
fn unique(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = HashSet::new();
    items.into_iter().filter(|i| seen.insert(i.clone())).collect()
}
