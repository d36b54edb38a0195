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
const CIRCLES_WITH_POSTS: u32 = 10;
const POSTS_PAGE: u32 = 10;
const CAMPAIGNS_PAGE: u32 = 20;
const CAMPAIGNS_WITH_TEAMS: usize = 15;
const TEAMS_PAGE: u32 = 50;
const COLLECTIONS_PAGE: u32 = 20;
const BILLS_PAGE: u32 = 20;
const GROUPS: usize = 10;
/// The most ids of one kind a batch read takes (groupbuy's bound).
const MAX_IDS: usize = 100;

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
    /// At most six backend calls whatever the data, in two rounds: friends, wallet, open
    /// collections, my circles with their posts and the active campaigns (kept a moment for
    /// every user, so mostly not asked) at once; then the teams and campaigns the cards and
    /// campaigns need, in one call (none when there are none).
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
        // The campaign and its filling teams come in one groupbuy call.
        let request = gb::ListOpenTeamsRequest {
            campaign_ids: vec![campaign_id],
            team_ids: Vec::new(),
            teams_per_campaign: TEAMS_PAGE,
        };
        let teams = self
            .groupbuy
            .call(ctx, Kind::Read, self.budgets.part, request, |mut c, r| async move { c.list_open_teams(r).await });
        let (teams, friends) = tokio::join!(teams, self.friends(ctx));
        // A campaign that does not exist (or a bad id) is an answer, not a missing part.
        if let Err(status) = &teams
            && matches!(status.code(), Code::NotFound | Code::InvalidArgument | Code::PermissionDenied)
        {
            return Err(status.clone());
        }
        let teams = teams.ok().map(|t| t.into_inner());
        if let Some(found) = &teams
            && found.campaigns.is_empty()
        {
            return Err(Status::not_found("campaign not found"));
        }
        let mut missing = Missing::default();
        missing.mark_if(teams.is_none(), "campaign");
        missing.mark_if(teams.is_none(), "teams");
        missing.mark_if(friends.is_err(), "friends");
        let friends = friends.unwrap_or_default();
        let (campaign, open) = match teams {
            Some(found) => (found.campaigns.into_iter().next(), found.open_teams),
            None => (None, Vec::new()),
        };
        let mut open: Vec<gb::Team> = open.into_iter().filter(is_filling).collect();
        open.sort_by_key(|t| t.opened_at_micros);
        Ok(gw::CampaignDetailScreen {
            campaign,
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

    /// My open collections and what I owe in each; `false` when they could not be read.
    async fn open_collections(&self, ctx: &CallContext, me: &str) -> (Vec<gw::OpenCollection>, bool) {
        let request = pay::ListMyOpenCollectionsRequest { page: page(COLLECTIONS_PAGE) };
        let reply =
            self.payments
                .call(ctx, Kind::Read, self.budgets.part, request, |mut c, r| async move {
                    c.list_my_open_collections(r).await
                })
                .await;
        match reply {
            Ok(reply) => {
                let open = reply
                    .into_inner()
                    .collections
                    .into_iter()
                    .filter_map(|c| open_collection(c.collection?, c.bill_title, me))
                    .collect();
                (open, true)
            }
            Err(_) => (Vec::new(), false),
        }
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
        // A circle the caller left, owing and owed nothing there, answers PERMISSION_DENIED: its
        // balances are no longer theirs to see, which is an answer, not a missing part.
        let results: Vec<_> = join_all(lookups)
            .await
            .into_iter()
            .filter(|r| !matches!(r, Err(status) if status.code() == Code::PermissionDenied))
            .collect();
        let complete = results.iter().all(Result::is_ok);
        (results.into_iter().filter_map(Result::ok).map(|r| r.into_inner()).collect(), complete)
    }

    /// The first page of active campaigns, shared by every caller for a short while. Safe to
    /// share: group-buy answers every signed-in user alike (the list is public), the gateway
    /// has verified the caller's token, and the list is at most `active_campaigns_ttl_ms` old
    /// (1 s by default). The campaigns `Home` asks teams for (the first 15) come fresh from
    /// `ListOpenTeams`; which campaigns are active, and any others, may lag by that much.
    async fn active_campaigns(&self, ctx: &CallContext) -> Result<Vec<gb::Campaign>, Status> {
        self.active_campaigns
            .get(|| async {
                let request = gb::ListActiveCampaignsRequest { page: page(CAMPAIGNS_PAGE) };
                let reply = self
                    .groupbuy
                    .call(ctx, Kind::Read, self.budgets.part, request, |mut c, r| async move {
                        c.list_active_campaigns(r).await
                    })
                    .await?;
                Ok(reply.into_inner().campaigns)
            })
            .await
    }

    /// Deal cards posted in my circles, active campaigns, and the teams of both: two calls at
    /// once (my circles with their newest posts; the active campaigns), then one for the
    /// teams on the cards and the filling teams of the campaigns.
    async fn deals(&self, ctx: &CallContext) -> Deals {
        let part = self.budgets.part;
        let my_circles = self.circles.call(
            ctx,
            Kind::Read,
            part,
            circles::ListMyCirclePostsRequest {
                page: page(CIRCLES_PAGE),
                circles_with_posts: CIRCLES_WITH_POSTS,
                posts_per_circle: POSTS_PAGE,
            },
            |mut c, r| async move { c.list_my_circle_posts(r).await },
        );
        let (my_circles, active) = tokio::join!(my_circles, self.active_campaigns(ctx));
        let mut out = Deals { deals_complete: my_circles.is_ok(), teams_complete: active.is_ok(), ..Deals::default() };
        let (my_circles, posts) = match my_circles.map(|r| r.into_inner()) {
            Ok(reply) => (Some(reply.circles), reply.posts),
            Err(_) => (None, Vec::new()),
        };
        let active = active.unwrap_or_default();
        let active_ids: Vec<String> = active.iter().map(|c| c.campaign_id.clone()).collect();
        out.campaigns.extend(active.into_iter().map(|c| (c.campaign_id.clone(), c)));
        let names: HashMap<&str, &str> =
            my_circles.iter().flatten().map(|c| (c.circle_id.as_str(), c.name.as_str())).collect();
        let cards: Vec<(circles::Post, DealTarget)> =
            posts.into_iter().filter_map(|p| deal_target(&p).map(|target| (p, target))).collect();

        // The teams on cards, the campaigns on cards and the active ones (groupbuy adds those of
        // the teams), and the filling teams of all of them, in one call.
        let team_ids: Vec<String> = unique(cards.iter().filter_map(|(_, t)| match t {
            DealTarget::Team(id) => Some(id.clone()),
            DealTarget::Campaign(_) => None,
        }));
        let campaign_ids: Vec<String> = unique(
            cards
                .iter()
                .filter_map(|(_, t)| match t {
                    DealTarget::Campaign(id) => Some(id.clone()),
                    DealTarget::Team(_) => None,
                })
                .chain(active_ids),
        )
        .into_iter()
        .take(CAMPAIGNS_WITH_TEAMS)
        .collect();
        let mut card_teams: HashMap<String, gb::Team> = HashMap::new();
        if !(team_ids.is_empty() && campaign_ids.is_empty()) {
            let request = gb::ListOpenTeamsRequest {
                campaign_ids,
                team_ids: team_ids.into_iter().take(MAX_IDS).collect(),
                teams_per_campaign: TEAMS_PAGE,
            };
            let found = self
                .groupbuy
                .call(ctx, Kind::Read, part, request, |mut c, r| async move { c.list_open_teams(r).await })
                .await;
            match found.map(|r| r.into_inner()) {
                Ok(found) => {
                    for campaign in found.campaigns {
                        out.campaigns.insert(campaign.campaign_id.clone(), campaign);
                    }
                    card_teams = found.teams.into_iter().map(|t| (t.team_id.clone(), t)).collect();
                    out.teams = found.open_teams;
                }
                Err(_) => (out.deals_complete, out.teams_complete) = (false, false),
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
