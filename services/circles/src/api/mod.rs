//! The gRPC face of the circles service: parse requests, call the use case, shape the reply.

mod convert;

use tonic::{Request, Response, Status};
use tuan_proto::circles::v1::{self as pb, circles_service_server::CirclesService};
use tuan_runtime::{
    ApiError,
    auth::caller,
    grpc::{count_or, event_meta, parse_uuid},
    paging::Page,
};

use crate::{
    app::{CirclesApp, MemberOp},
    domain::{
        account::FollowAction,
        text::{AccountName, CircleName, Content, Description, Topic},
    },
    store::queries::ItemCursor,
};

pub use tuan_proto::circles::v1::circles_service_server::CirclesServiceServer;

use crate::app::SettingChange;

/// The circles gRPC service.
#[derive(Clone)]
pub struct CirclesApi {
    app: CirclesApp,
}

type Reply<T> = Result<Response<T>, Status>;

impl CirclesApi {
    pub fn new(app: CirclesApp) -> Self {
        Self { app }
    }

    async fn member_op(&self, request: Request<pb::MemberTarget>, op: MemberOp) -> Reply<pb::Membership> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let circle_id = parse_uuid("circle_id", &request.get_ref().circle_id)?;
        let user_id = parse_uuid("user_id", &request.get_ref().user_id)?;
        let row = self.app.member_op(&meta, &caller, circle_id, user_id, op).await?;
        Ok(Response::new(convert::membership(circle_id, user_id, row)))
    }

    /// An operation on the caller's own membership.
    async fn own_op(&self, request: Request<pb::CircleTarget>, op: MemberOp) -> Reply<pb::Membership> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let circle_id = parse_uuid("circle_id", &request.get_ref().circle_id)?;
        let row = self.app.member_op(&meta, &caller, circle_id, caller.user_id, op).await?;
        Ok(Response::new(convert::membership(circle_id, caller.user_id, row)))
    }

    async fn setting<T>(&self, request: &Request<T>, circle_id: &str, change: SettingChange) -> Reply<pb::Circle> {
        let caller = caller(request)?;
        let meta = event_meta(request);
        let circle_id = parse_uuid("circle_id", circle_id)?;
        Ok(Response::new(convert::circle(self.app.change_setting(&meta, &caller, circle_id, change).await?)))
    }

    async fn follow_op(&self, request: Request<pb::AccountTarget>, action: FollowAction) -> Reply<pb::Follow> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let account_id = parse_uuid("account_id", &request.get_ref().account_id)?;
        let (following, muted) = self.app.follow(&meta, &caller, account_id, action).await?;
        Ok(Response::new(pb::Follow {
            account_id: account_id.to_string(),
            user_id: caller.user_id.to_string(),
            following,
            muted,
        }))
    }
}

fn item_page(page: Option<&tuan_proto::common::v1::PageRequest>) -> Result<(Page, Option<ItemCursor>), ApiError> {
    let page = Page::parse(page)?;
    let before = page.cursor.as_deref().map(convert::parse_item_cursor).transpose()?;
    Ok((page, before))
}

#[tonic::async_trait]
impl CirclesService for CirclesApi {
    async fn create_circle(&self, request: Request<pb::CreateCircleRequest>) -> Reply<pb::Circle> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let name = CircleName::parse(&r.name).map_err(ApiError::from)?;
        let topic = Topic::parse(&r.topic).map_err(ApiError::from)?;
        let kind = convert::kind(r.kind())?;
        let row = self.app.create_circle(&meta, &caller, name, kind, topic, r.approval_required).await?;
        Ok(Response::new(convert::circle(row)))
    }

    async fn get_circle(&self, request: Request<pb::CircleTarget>) -> Reply<pb::Circle> {
        let caller = caller(&request)?;
        let circle_id = parse_uuid("circle_id", &request.get_ref().circle_id)?;
        Ok(Response::new(convert::circle(self.app.circle(&caller, circle_id).await?)))
    }

    async fn rename_circle(&self, request: Request<pb::RenameCircleRequest>) -> Reply<pb::Circle> {
        // Who is asking comes first: an unauthenticated caller learns nothing of the rules.
        caller(&request)?;
        let name = CircleName::parse(&request.get_ref().name).map_err(ApiError::from)?;
        self.setting(&request, &request.get_ref().circle_id, SettingChange::Rename(name)).await
    }

    async fn set_topic(&self, request: Request<pb::SetTopicRequest>) -> Reply<pb::Circle> {
        caller(&request)?;
        let topic = Topic::parse(&request.get_ref().topic).map_err(ApiError::from)?;
        self.setting(&request, &request.get_ref().circle_id, SettingChange::Topic(topic)).await
    }

    async fn set_approval_required(&self, request: Request<pb::SetApprovalRequiredRequest>) -> Reply<pb::Circle> {
        let required = request.get_ref().approval_required;
        self.setting(&request, &request.get_ref().circle_id, SettingChange::Approval(required)).await
    }

    async fn set_member_cap(&self, request: Request<pb::SetMemberCapRequest>) -> Reply<pb::Circle> {
        let cap = request.get_ref().member_cap;
        self.setting(&request, &request.get_ref().circle_id, SettingChange::MemberCap(cap)).await
    }

    async fn transfer_ownership(&self, request: Request<pb::MemberTarget>) -> Reply<pb::Circle> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let circle_id = parse_uuid("circle_id", &request.get_ref().circle_id)?;
        let to = parse_uuid("user_id", &request.get_ref().user_id)?;
        Ok(Response::new(convert::circle(self.app.transfer_ownership(&meta, &caller, circle_id, to).await?)))
    }

    async fn dissolve_circle(&self, request: Request<pb::CircleTarget>) -> Reply<pb::Circle> {
        self.setting(&request, &request.get_ref().circle_id, SettingChange::Dissolve).await
    }

    async fn invite_member(&self, request: Request<pb::MemberTarget>) -> Reply<pb::Membership> {
        self.member_op(request, MemberOp::Invite).await
    }

    async fn approve_invitation(&self, request: Request<pb::MemberTarget>) -> Reply<pb::Membership> {
        self.member_op(request, MemberOp::Approve).await
    }

    async fn decline_invitation(&self, request: Request<pb::MemberTarget>) -> Reply<pb::Membership> {
        self.member_op(request, MemberOp::Decline).await
    }

    async fn join_circle(&self, request: Request<pb::CircleTarget>) -> Reply<pb::Membership> {
        self.own_op(request, MemberOp::Join).await
    }

    async fn leave_circle(&self, request: Request<pb::CircleTarget>) -> Reply<pb::Membership> {
        self.own_op(request, MemberOp::Leave).await
    }

    async fn kick_member(&self, request: Request<pb::MemberTarget>) -> Reply<pb::Membership> {
        self.member_op(request, MemberOp::Kick).await
    }

    async fn promote_admin(&self, request: Request<pb::MemberTarget>) -> Reply<pb::Membership> {
        self.member_op(request, MemberOp::Promote).await
    }

    async fn demote_admin(&self, request: Request<pb::MemberTarget>) -> Reply<pb::Membership> {
        self.member_op(request, MemberOp::Demote).await
    }

    async fn mute_circle(&self, request: Request<pb::MuteCircleRequest>) -> Reply<pb::Membership> {
        let muted = request.get_ref().muted;
        let circle_id = request.get_ref().circle_id.clone();
        let (metadata, extensions, _) = request.into_parts();
        self.own_op(Request::from_parts(metadata, extensions, pb::CircleTarget { circle_id }), MemberOp::Mute(muted))
            .await
    }

    async fn list_my_circles(&self, request: Request<pb::ListMyCirclesRequest>) -> Reply<pb::ListMyCirclesResponse> {
        let caller = caller(&request)?;
        let page = Page::parse(request.get_ref().page.as_ref())?;
        let after = page.cursor.as_deref().map(convert::parse_id_cursor).transpose()?;
        let mut rows = self.app.my_circles(&caller, after, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut rows, |c| c.circle_id.to_string());
        Ok(Response::new(pb::ListMyCirclesResponse {
            circles: rows.into_iter().map(convert::circle).collect(),
            next_cursor,
        }))
    }

    async fn list_members(&self, request: Request<pb::ListMembersRequest>) -> Reply<pb::ListMembersResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let circle_id = parse_uuid("circle_id", &r.circle_id)?;
        let status = convert::status_filter(r.state())?;
        let page = Page::parse(r.page.as_ref())?;
        let after = page.cursor.as_deref().map(convert::parse_id_cursor).transpose()?;
        let mut rows = self.app.members(&caller, circle_id, status, after, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut rows, |m| m.user_id.to_string());
        let members = rows.into_iter().map(|m| convert::membership(m.circle_id, m.user_id, Some(m))).collect();
        Ok(Response::new(pb::ListMembersResponse { members, next_cursor }))
    }

    async fn create_post(&self, request: Request<pb::CreatePostRequest>) -> Reply<pb::Post> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let circle_id = parse_uuid("circle_id", &r.circle_id)?;
        let content = Content::parse(&r.text, r.card.as_ref()).map_err(ApiError::from)?;
        Ok(Response::new(convert::post(self.app.create_post(&meta, &caller, circle_id, content).await?)))
    }

    async fn list_posts(&self, request: Request<pb::ListPostsRequest>) -> Reply<pb::ListPostsResponse> {
        let caller = caller(&request)?;
        let circle_id = parse_uuid("circle_id", &request.get_ref().circle_id)?;
        let (page, before) = item_page(request.get_ref().page.as_ref())?;
        let mut rows = self.app.posts(&caller, circle_id, before, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut rows, convert::item_cursor);
        Ok(Response::new(pb::ListPostsResponse { posts: rows.into_iter().map(convert::post).collect(), next_cursor }))
    }

    async fn list_my_circle_posts(
        &self,
        request: Request<pb::ListMyCirclePostsRequest>,
    ) -> Reply<pb::ListMyCirclePostsResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let page = Page::parse(r.page.as_ref())?;
        let with_posts = count_or("circles_with_posts", r.circles_with_posts, 10, 50)?;
        let per_circle = count_or("posts_per_circle", r.posts_per_circle, 10, 20)?;
        let after = page.cursor.as_deref().map(convert::parse_id_cursor).transpose()?;
        // Posts only of circles on this page (it holds at most `page.limit` of those fetched).
        let with_posts = with_posts.min(page.limit);
        let (mut rows, posts) = self
            .app
            .my_circles_with_posts(&caller, after, page.fetch_limit(), i64::from(with_posts), i64::from(per_circle))
            .await?;
        let next_cursor = page.finish(&mut rows, |c| c.circle_id.to_string());
        Ok(Response::new(pb::ListMyCirclePostsResponse {
            circles: rows.into_iter().map(convert::circle).collect(),
            next_cursor,
            posts: posts.into_iter().map(convert::post).collect(),
        }))
    }

    async fn post_moment(&self, request: Request<pb::PostMomentRequest>) -> Reply<pb::Moment> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let content = Content::parse(&r.text, r.card.as_ref()).map_err(ApiError::from)?;
        Ok(Response::new(convert::moment(self.app.post_moment(&meta, &caller, content).await?)))
    }

    async fn get_timeline(&self, request: Request<pb::GetTimelineRequest>) -> Reply<pb::GetTimelineResponse> {
        let caller = caller(&request)?;
        let (page, before) = item_page(request.get_ref().page.as_ref())?;
        let mut rows = self.app.timeline(&caller, before, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut rows, convert::item_cursor);
        Ok(Response::new(pb::GetTimelineResponse {
            moments: rows.into_iter().map(convert::moment).collect(),
            next_cursor,
        }))
    }

    async fn set_premium(&self, request: Request<pb::SetPremiumRequest>) -> Reply<pb::SetPremiumResponse> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let user_id = parse_uuid("user_id", &request.get_ref().user_id)?;
        let premium = self.app.set_premium(&meta, &caller, user_id, request.get_ref().premium).await?;
        Ok(Response::new(pb::SetPremiumResponse { user_id: user_id.to_string(), premium }))
    }

    async fn open_public_account(&self, request: Request<pb::OpenPublicAccountRequest>) -> Reply<pb::PublicAccount> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let name = AccountName::parse(&request.get_ref().name).map_err(ApiError::from)?;
        let description = Description::parse(&request.get_ref().description).map_err(ApiError::from)?;
        let row = self.app.open_account(&meta, &caller, name, description).await?;
        let quota = self.app.settings().broadcast_quota_per_month;
        Ok(Response::new(convert::account(row, 0, quota)))
    }

    async fn get_public_account(&self, request: Request<pb::AccountTarget>) -> Reply<pb::PublicAccount> {
        let caller = caller(&request)?;
        // No id: the caller's own account (how a merchant finds it again).
        let row = match request.get_ref().account_id.trim() {
            "" => self.app.own_account(&caller).await?,
            id => self.app.account(parse_uuid("account_id", id)?).await?,
        };
        let account_id = row.account_id;
        // Only the owner sees how much of the quota is used.
        let (sent, quota) = if row.owner_id == caller.user_id {
            (self.app.broadcasts_this_month(account_id).await?, self.app.settings().broadcast_quota_per_month)
        } else {
            (0, 0)
        };
        Ok(Response::new(convert::account(row, sent, quota)))
    }

    async fn follow_account(&self, request: Request<pb::AccountTarget>) -> Reply<pb::Follow> {
        self.follow_op(request, FollowAction::Follow).await
    }

    async fn unfollow_account(&self, request: Request<pb::AccountTarget>) -> Reply<pb::Follow> {
        self.follow_op(request, FollowAction::Unfollow).await
    }

    async fn mute_account(&self, request: Request<pb::MuteAccountRequest>) -> Reply<pb::Follow> {
        let muted = request.get_ref().muted;
        let account_id = request.get_ref().account_id.clone();
        let (metadata, extensions, _) = request.into_parts();
        self.follow_op(
            Request::from_parts(metadata, extensions, pb::AccountTarget { account_id }),
            FollowAction::Mute(muted),
        )
        .await
    }

    async fn broadcast(&self, request: Request<pb::BroadcastRequest>) -> Reply<pb::BroadcastResponse> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let account_id = parse_uuid("account_id", &r.account_id)?;
        let content = Content::parse(&r.text, r.card.as_ref()).map_err(ApiError::from)?;
        Ok(Response::new(convert::receipt(self.app.broadcast(&meta, &caller, account_id, content).await?)))
    }

    async fn list_inbox(&self, request: Request<pb::ListInboxRequest>) -> Reply<pb::ListInboxResponse> {
        let caller = caller(&request)?;
        let (page, before) = item_page(request.get_ref().page.as_ref())?;
        let mut rows = self.app.inbox(&caller, before, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut rows, convert::item_cursor);
        Ok(Response::new(pb::ListInboxResponse {
            items: rows.into_iter().map(convert::inbox_item).collect(),
            next_cursor,
        }))
    }
}
