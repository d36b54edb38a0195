//! The gRPC face of the group-buy service: parse requests, call the use case, shape the reply.

mod convert;

use std::pin::Pin;

use chrono::Utc;
use futures::{Stream, StreamExt as _};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use tuan_proto::groupbuy::v1::{self as pb, group_buy_service_server::GroupBuyService};
use tuan_runtime::{
    ApiError,
    auth::caller,
    grpc::{count_or, event_meta, idempotency_key as join_key, parse_uuid, parse_uuids},
    paging::Page,
};

use crate::{
    app::GroupBuyApp,
    domain::campaign::{CampaignSpec, LaunchInput, TeamInput},
};

pub use tuan_proto::groupbuy::v1::group_buy_service_server::GroupBuyServiceServer;

/// The group-buy gRPC service.
#[derive(Clone)]
pub struct GroupBuyApi {
    app: GroupBuyApp,
}

impl GroupBuyApi {
    pub fn new(app: GroupBuyApp) -> Self {
        Self { app }
    }
}

type Reply<T> = Result<Response<T>, Status>;
type Progress<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The most ids of one kind a batch read takes.
const MAX_BATCH: usize = 100;

fn launch_input(r: pb::LaunchCampaignRequest) -> LaunchInput {
    let (team, tipping) = match r.mode {
        Some(pb::launch_campaign_request::Mode::Team(t)) => {
            let team =
                TeamInput { size: t.team_size, window_secs: t.team_window_secs, leader_discount: t.leader_discount };
            (Some(team), None)
        }
        Some(pb::launch_campaign_request::Mode::Tipping(t)) => (None, Some(t.min_buyers)),
        None => (None, None),
    };
    LaunchInput {
        title: r.title,
        description: r.description,
        list_price: r.list_price,
        group_price: r.group_price,
        currency: r.currency,
        stock: r.stock,
        per_user_limit: r.per_user_limit,
        starts_at_micros: r.starts_at_micros,
        ends_at_micros: r.ends_at_micros,
        team,
        tipping,
    }
}

#[tonic::async_trait]
impl GroupBuyService for GroupBuyApi {
    async fn launch_campaign(&self, request: Request<pb::LaunchCampaignRequest>) -> Reply<pb::Campaign> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let input = launch_input(request.into_inner());
        let spec = CampaignSpec::parse(&input, Utc::now().timestamp_micros()).map_err(ApiError::from)?;
        Ok(Response::new(convert::campaign(self.app.launch(&meta, &caller, spec).await?)))
    }

    async fn pause_campaign(&self, request: Request<pb::CampaignRef>) -> Reply<pb::Campaign> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let id = parse_uuid("campaign_id", &request.get_ref().campaign_id)?;
        Ok(Response::new(convert::campaign(self.app.pause(&meta, &caller, id).await?)))
    }

    async fn resume_campaign(&self, request: Request<pb::CampaignRef>) -> Reply<pb::Campaign> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let id = parse_uuid("campaign_id", &request.get_ref().campaign_id)?;
        Ok(Response::new(convert::campaign(self.app.resume(&meta, &caller, id).await?)))
    }

    async fn end_campaign(&self, request: Request<pb::CampaignRef>) -> Reply<pb::Campaign> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let id = parse_uuid("campaign_id", &request.get_ref().campaign_id)?;
        Ok(Response::new(convert::campaign(self.app.end(&meta, &caller, id).await?)))
    }

    async fn get_campaign(&self, request: Request<pb::CampaignRef>) -> Reply<pb::Campaign> {
        caller(&request)?;
        let id = parse_uuid("campaign_id", &request.get_ref().campaign_id)?;
        Ok(Response::new(convert::campaign(self.app.campaign(id).await?)))
    }

    async fn list_active_campaigns(
        &self,
        request: Request<pb::ListActiveCampaignsRequest>,
    ) -> Reply<pb::ListCampaignsResponse> {
        caller(&request)?;
        let page = Page::parse(request.get_ref().page.as_ref())?;
        let after = convert::cursor(page.cursor.as_deref())?;
        let mut rows = self.app.active_campaigns(after, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut rows, |c| c.campaign_id.to_string());
        Ok(Response::new(pb::ListCampaignsResponse {
            campaigns: rows.into_iter().map(convert::campaign).collect(),
            next_cursor,
        }))
    }

    async fn list_my_campaigns(
        &self,
        request: Request<pb::ListMyCampaignsRequest>,
    ) -> Reply<pb::ListCampaignsResponse> {
        let caller = caller(&request)?;
        let page = Page::parse(request.get_ref().page.as_ref())?;
        let after = convert::cursor(page.cursor.as_deref())?;
        let mut rows = self.app.my_campaigns(&caller, after, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut rows, |c| c.campaign_id.to_string());
        Ok(Response::new(pb::ListCampaignsResponse {
            campaigns: rows.into_iter().map(convert::campaign).collect(),
            next_cursor,
        }))
    }

    async fn get_campaign_stats(&self, request: Request<pb::CampaignRef>) -> Reply<pb::CampaignStats> {
        let caller = caller(&request)?;
        let id = parse_uuid("campaign_id", &request.get_ref().campaign_id)?;
        let (campaign, stats, history) = self.app.stats(&caller, id).await?;
        Ok(Response::new(convert::stats(&campaign, stats, history)))
    }

    async fn open_team(&self, request: Request<pb::OpenTeamRequest>) -> Reply<pb::JoinResult> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let id = parse_uuid("campaign_id", &r.campaign_id)?;
        let key = join_key("OpenTeam", r, &r.idempotency_key, |m| m.idempotency_key.clear())?;
        Ok(Response::new(convert::join_result(self.app.open_team(&meta, &caller, id, &key).await?)))
    }

    async fn join_team(&self, request: Request<pb::JoinTeamRequest>) -> Reply<pb::JoinResult> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let id = parse_uuid("team_id", &r.team_id)?;
        let key = join_key("JoinTeam", r, &r.idempotency_key, |m| m.idempotency_key.clear())?;
        Ok(Response::new(convert::join_result(self.app.join_team(&meta, &caller, id, &key).await?)))
    }

    async fn leave_team(&self, request: Request<pb::LeaveTeamRequest>) -> Reply<pb::Team> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let id = parse_uuid("team_id", &request.get_ref().team_id)?;
        Ok(Response::new(convert::team(self.app.leave_team(&meta, &caller, id).await?)))
    }

    async fn get_team(&self, request: Request<pb::TeamRef>) -> Reply<pb::Team> {
        caller(&request)?;
        let id = parse_uuid("team_id", &request.get_ref().team_id)?;
        Ok(Response::new(convert::team(self.app.team_view(id).await?)))
    }

    async fn list_my_teams(&self, request: Request<pb::ListMyTeamsRequest>) -> Reply<pb::ListTeamsResponse> {
        let caller = caller(&request)?;
        let page = Page::parse(request.get_ref().page.as_ref())?;
        let after = convert::cursor(page.cursor.as_deref())?;
        let mut rows = self.app.my_teams(&caller, after, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut rows, |t| t.team.team_id.to_string());
        Ok(Response::new(pb::ListTeamsResponse { teams: rows.into_iter().map(convert::team).collect(), next_cursor }))
    }

    async fn list_campaign_teams(
        &self,
        request: Request<pb::ListCampaignTeamsRequest>,
    ) -> Reply<pb::ListTeamsResponse> {
        caller(&request)?;
        let campaign = parse_uuid("campaign_id", &request.get_ref().campaign_id)?;
        let page = Page::parse(request.get_ref().page.as_ref())?;
        let after = convert::cursor(page.cursor.as_deref())?;
        let mut rows = self.app.campaign_teams(campaign, after, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut rows, |t| t.team.team_id.to_string());
        Ok(Response::new(pb::ListTeamsResponse { teams: rows.into_iter().map(convert::team).collect(), next_cursor }))
    }

    async fn list_open_teams(&self, request: Request<pb::ListOpenTeamsRequest>) -> Reply<pb::ListOpenTeamsResponse> {
        caller(&request)?;
        let r = request.get_ref();
        let campaigns = parse_uuids("campaign_ids", &r.campaign_ids, MAX_BATCH)?;
        let teams = parse_uuids("team_ids", &r.team_ids, MAX_BATCH)?;
        let per_campaign = count_or("teams_per_campaign", r.teams_per_campaign, 20, 50)?;
        let found = self.app.open_teams(&campaigns, &teams, i64::from(per_campaign)).await?;
        Ok(Response::new(pb::ListOpenTeamsResponse {
            teams: found.teams.into_iter().map(convert::team).collect(),
            open_teams: found.open_teams.into_iter().map(convert::team).collect(),
            campaigns: found.campaigns.into_iter().map(convert::campaign).collect(),
        }))
    }

    async fn join_campaign(&self, request: Request<pb::JoinCampaignRequest>) -> Reply<pb::JoinResult> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let id = parse_uuid("campaign_id", &r.campaign_id)?;
        let key = join_key("JoinCampaign", r, &r.idempotency_key, |m| m.idempotency_key.clear())?;
        Ok(Response::new(convert::join_result(self.app.join_campaign(&meta, &caller, id, &key).await?)))
    }

    async fn get_join(&self, request: Request<pb::JoinRef>) -> Reply<pb::Join> {
        let caller = caller(&request)?;
        let id = parse_uuid("join_id", &request.get_ref().join_id)?;
        Ok(Response::new(convert::join(self.app.get_join(&caller, id).await?)))
    }

    type WatchCampaignStream = Progress<pb::CampaignProgress>;

    async fn watch_campaign(&self, request: Request<pb::CampaignRef>) -> Reply<Self::WatchCampaignStream> {
        caller(&request)?;
        let id = parse_uuid("campaign_id", &request.get_ref().campaign_id)?;
        let updates = self.app.watch_campaign(id).await?;
        let stream = ReceiverStream::new(updates).map(|p| Ok(convert::campaign_progress(p)));
        Ok(Response::new(Box::pin(stream)))
    }

    type WatchTeamStream = Progress<pb::TeamProgress>;

    async fn watch_team(&self, request: Request<pb::TeamRef>) -> Reply<Self::WatchTeamStream> {
        caller(&request)?;
        let id = parse_uuid("team_id", &request.get_ref().team_id)?;
        let updates = self.app.watch_team(id).await?;
        let stream = ReceiverStream::new(updates).map(|p| Ok(convert::team_progress(p)));
        Ok(Response::new(Box::pin(stream)))
    }
}
