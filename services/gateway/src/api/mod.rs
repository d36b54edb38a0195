//! The gRPC surface: `tuan.gateway.v1.MobileGateway`. Screens are built by the app; every
//! other call is passed through to the owning backend with the same messages, the caller's
//! token and correlation id, the trace context and a deadline.

pub mod auth;
pub mod console;
pub mod limits;
pub mod web;

use futures::{StreamExt, stream::BoxStream};
use tonic::{Request, Response, Status};
use tuan_proto::{
    circles::v1 as circles, gateway::v1 as gw, groupbuy::v1 as gb, payments::v1 as pay, users::v1 as users,
};
use tuan_runtime::{ApiError, grpc::parse_uuid};

pub use tuan_proto::gateway::v1::mobile_gateway_server::{MobileGateway, MobileGatewayServer};

use crate::app::{
    GatewayApp,
    backends::{CallContext, Kind},
};
use auth::Authenticated;

type Reply<T> = Result<Response<T>, Status>;

pub struct GatewayApi {
    app: GatewayApp,
}

impl GatewayApi {
    pub fn new(app: GatewayApp) -> Self {
        Self { app }
    }
}

/// The caller the auth layer verified.
fn my_id<T>(request: &Request<T>) -> Result<uuid::Uuid, Status> {
    request
        .extensions()
        .get::<Authenticated>()
        .map(|a| a.0.user_id)
        .ok_or_else(|| ApiError::unauthenticated("missing bearer token").into())
}

fn me<T>(request: &Request<T>) -> Result<String, Status> {
    my_id(request).map(|id| id.to_string())
}

impl GatewayApi {
    async fn home_screen(&self, request: Request<gw::HomeRequest>) -> Reply<gw::HomeScreen> {
        let me = me(&request)?;
        let ctx = CallContext::of(&request, self.app.budgets.screen);
        Ok(Response::new(self.app.home(&ctx, &me).await))
    }

    async fn campaign_detail_screen(
        &self,
        request: Request<gw::CampaignDetailRequest>,
    ) -> Reply<gw::CampaignDetailScreen> {
        let me = me(&request)?;
        let id = parse_uuid("campaign_id", &request.get_ref().campaign_id)?;
        let ctx = CallContext::of(&request, self.app.budgets.screen);
        Ok(Response::new(self.app.campaign_detail(&ctx, &me, id.to_string()).await?))
    }

    async fn wallet_screen(&self, request: Request<gw::WalletRequest>) -> Reply<gw::WalletScreen> {
        let me = me(&request)?;
        let ctx = CallContext::of(&request, self.app.budgets.screen);
        let limit = request.get_ref().statement_limit;
        Ok(Response::new(self.app.wallet(&ctx, &me, limit).await))
    }
}

/// Implements the service: the screens and streams by hand, then one pass-through method per
/// listed call (`name => backend.Kind(Request) -> Response`). Reads are retried once.
macro_rules! mobile_gateway {
    ($( $method:ident => $backend:ident . $kind:ident ( $req:ty ) -> $resp:ty ; )*) => {
        #[tonic::async_trait]
        impl MobileGateway for GatewayApi {
            type WatchCampaignStream = BoxStream<'static, Result<gb::CampaignProgress, Status>>;
            type WatchTeamStream = BoxStream<'static, Result<gb::TeamProgress, Status>>;

            async fn home(&self, request: Request<gw::HomeRequest>) -> Reply<gw::HomeScreen> {
                self.home_screen(request).await
            }

            async fn campaign_detail(
                &self,
                request: Request<gw::CampaignDetailRequest>,
            ) -> Reply<gw::CampaignDetailScreen> {
                self.campaign_detail_screen(request).await
            }

            async fn wallet(&self, request: Request<gw::WalletRequest>) -> Reply<gw::WalletScreen> {
                self.wallet_screen(request).await
            }

            async fn watch_campaign(&self, request: Request<gb::CampaignRef>) -> Reply<Self::WatchCampaignStream> {
                // A slot first: past the cap nothing is opened at the backend.
                let slot = self.app.watches.take(my_id(&request)?)?;
                let ctx = CallContext::of(&request, self.app.budgets.command);
                let reply = self
                    .app
                    .groupbuy
                    .open_stream(&ctx, self.app.budgets.part, request.into_inner(), |mut c, r| async move {
                        c.watch_campaign(r).await
                    })
                    .await?;
                Ok(Response::new(self.app.watches.bound(slot, reply.into_inner()).boxed()))
            }

            async fn watch_team(&self, request: Request<gb::TeamRef>) -> Reply<Self::WatchTeamStream> {
                // A slot first: past the cap nothing is opened at the backend.
                let slot = self.app.watches.take(my_id(&request)?)?;
                let ctx = CallContext::of(&request, self.app.budgets.command);
                let reply = self
                    .app
                    .groupbuy
                    .open_stream(&ctx, self.app.budgets.part, request.into_inner(), |mut c, r| async move {
                        c.watch_team(r).await
                    })
                    .await?;
                Ok(Response::new(self.app.watches.bound(slot, reply.into_inner()).boxed()))
            }

            $(
                async fn $method(&self, request: Request<$req>) -> Reply<$resp> {
                    let ctx = CallContext::of(&request, self.app.budgets.command);
                    self.app
                        .$backend
                        .call(&ctx, Kind::$kind, self.app.budgets.command, request.into_inner(), |mut c, r| async move {
                            c.$method(r).await
                        })
                        .await
                }
            )*
        }
    };
}

mobile_gateway! {
    request_phone_code => users.Command(users::RequestPhoneCodeRequest) -> users::RequestPhoneCodeResponse;
    sign_up => users.Command(users::SignUpRequest) -> users::AuthTokens;
    reset_password => users.Command(users::ResetPasswordRequest) -> users::AuthTokens;
    login => users.Command(users::LoginRequest) -> users::AuthTokens;
    refresh => users.Command(users::RefreshRequest) -> users::AuthTokens;
    logout => users.Command(users::LogoutRequest) -> users::LogoutResponse;
    logout_everywhere => users.Command(users::LogoutEverywhereRequest) -> users::LogoutEverywhereResponse;
    change_password => users.Command(users::ChangePasswordRequest) -> users::ChangePasswordResponse;
    get_me => users.Read(users::GetMeRequest) -> users::User;
    update_profile => users.Command(users::UpdateProfileRequest) -> users::User;
    get_profiles => users.Read(users::GetProfilesRequest) -> users::GetProfilesResponse;
    send_friend_request => users.Command(users::SendFriendRequestRequest) -> users::FriendshipResponse;
    accept_friend_request => users.Command(users::FriendTarget) -> users::FriendshipResponse;
    decline_friend_request => users.Command(users::FriendTarget) -> users::FriendshipResponse;
    remove_friend => users.Command(users::FriendTarget) -> users::FriendshipResponse;
    block_user => users.Command(users::FriendTarget) -> users::FriendshipResponse;
    unblock_user => users.Command(users::FriendTarget) -> users::FriendshipResponse;
    list_friends => users.Read(users::ListFriendsRequest) -> users::ListFriendsResponse;
    list_friend_requests => users.Read(users::ListFriendRequestsRequest) -> users::ListFriendRequestsResponse;
    get_discovery_salt => users.Read(users::GetDiscoverySaltRequest) -> users::GetDiscoverySaltResponse;
    // Charges the caller's daily allowance: not retried like a read.
    discover_friends => users.Command(users::DiscoverFriendsRequest) -> users::DiscoverFriendsResponse;
    apply_merchant => users.Command(users::ApplyMerchantRequest) -> users::MerchantApplication;
    get_merchant_application => users.Read(users::GetMerchantApplicationRequest) -> users::MerchantApplication;
    list_merchant_applications => users.Read(users::ListMerchantApplicationsRequest) -> users::ListMerchantApplicationsResponse;
    verify_merchant => users.Command(users::VerifyMerchantRequest) -> users::MerchantApplication;
    reject_merchant => users.Command(users::RejectMerchantRequest) -> users::MerchantApplication;
    grant_role => users.Command(users::GrantRoleRequest) -> users::RoleChangeResponse;
    revoke_role => users.Command(users::RevokeRoleRequest) -> users::RoleChangeResponse;
    list_role_changes => users.Read(users::ListRoleChangesRequest) -> users::ListRoleChangesResponse;

    create_circle => circles.Command(circles::CreateCircleRequest) -> circles::Circle;
    get_circle => circles.Read(circles::CircleTarget) -> circles::Circle;
    invite_member => circles.Command(circles::MemberTarget) -> circles::Membership;
    approve_invitation => circles.Command(circles::MemberTarget) -> circles::Membership;
    decline_invitation => circles.Command(circles::MemberTarget) -> circles::Membership;
    join_circle => circles.Command(circles::CircleTarget) -> circles::Membership;
    leave_circle => circles.Command(circles::CircleTarget) -> circles::Membership;
    mute_circle => circles.Command(circles::MuteCircleRequest) -> circles::Membership;
    list_my_circles => circles.Read(circles::ListMyCirclesRequest) -> circles::ListMyCirclesResponse;
    list_members => circles.Read(circles::ListMembersRequest) -> circles::ListMembersResponse;
    create_post => circles.Command(circles::CreatePostRequest) -> circles::Post;
    list_posts => circles.Read(circles::ListPostsRequest) -> circles::ListPostsResponse;
    post_moment => circles.Command(circles::PostMomentRequest) -> circles::Moment;
    get_timeline => circles.Read(circles::GetTimelineRequest) -> circles::GetTimelineResponse;
    follow_account => circles.Command(circles::AccountTarget) -> circles::Follow;
    unfollow_account => circles.Command(circles::AccountTarget) -> circles::Follow;
    list_inbox => circles.Read(circles::ListInboxRequest) -> circles::ListInboxResponse;
    open_public_account => circles.Command(circles::OpenPublicAccountRequest) -> circles::PublicAccount;
    get_public_account => circles.Read(circles::AccountTarget) -> circles::PublicAccount;
    broadcast => circles.Command(circles::BroadcastRequest) -> circles::BroadcastResponse;
    mute_account => circles.Command(circles::MuteAccountRequest) -> circles::Follow;

    launch_campaign => groupbuy.Command(gb::LaunchCampaignRequest) -> gb::Campaign;
    pause_campaign => groupbuy.Command(gb::CampaignRef) -> gb::Campaign;
    resume_campaign => groupbuy.Command(gb::CampaignRef) -> gb::Campaign;
    end_campaign => groupbuy.Command(gb::CampaignRef) -> gb::Campaign;
    get_campaign => groupbuy.Read(gb::CampaignRef) -> gb::Campaign;
    list_active_campaigns => groupbuy.Read(gb::ListActiveCampaignsRequest) -> gb::ListCampaignsResponse;
    get_campaign_stats => groupbuy.Read(gb::CampaignRef) -> gb::CampaignStats;
    open_team => groupbuy.Command(gb::OpenTeamRequest) -> gb::JoinResult;
    join_team => groupbuy.Command(gb::JoinTeamRequest) -> gb::JoinResult;
    leave_team => groupbuy.Command(gb::LeaveTeamRequest) -> gb::Team;
    get_team => groupbuy.Read(gb::TeamRef) -> gb::Team;
    list_my_teams => groupbuy.Read(gb::ListMyTeamsRequest) -> gb::ListTeamsResponse;
    list_campaign_teams => groupbuy.Read(gb::ListCampaignTeamsRequest) -> gb::ListTeamsResponse;
    join_campaign => groupbuy.Command(gb::JoinCampaignRequest) -> gb::JoinResult;
    get_join => groupbuy.Read(gb::JoinRef) -> gb::Join;
    list_my_campaigns => groupbuy.Read(gb::ListMyCampaignsRequest) -> gb::ListCampaignsResponse;

    top_up => payments.Command(pay::TopUpRequest) -> pay::ProviderRequest;
    get_top_up => payments.Read(pay::GetProviderRequestRequest) -> pay::ProviderRequest;
    withdraw => payments.Command(pay::WithdrawRequest) -> pay::ProviderRequest;
    get_withdrawal => payments.Read(pay::GetProviderRequestRequest) -> pay::ProviderRequest;
    transfer => payments.Command(pay::TransferRequest) -> pay::TransferReceipt;
    get_statement => payments.Read(pay::GetStatementRequest) -> pay::Statement;
    create_bill => payments.Command(pay::CreateBillRequest) -> pay::Bill;
    get_bill => payments.Read(pay::GetBillRequest) -> pay::Bill;
    list_bills => payments.Read(pay::ListBillsRequest) -> pay::ListBillsResponse;
    open_collection => payments.Command(pay::OpenCollectionRequest) -> pay::Collection;
    pay_collection => payments.Command(pay::PayCollectionRequest) -> pay::CollectionPaymentReceipt;
    remind_collection => payments.Command(pay::RemindCollectionRequest) -> pay::Collection;
    close_collection => payments.Command(pay::CloseCollectionRequest) -> pay::Collection;
    get_collection => payments.Read(pay::GetCollectionRequest) -> pay::Collection;
    get_group_balances => payments.Read(pay::GetGroupBalancesRequest) -> pay::GroupBalances;
    settle_up => payments.Command(pay::SettleUpRequest) -> pay::SettleUpResponse;
    donate => payments.Command(pay::DonateRequest) -> pay::DonationReceipt;
    get_charity_campaign => payments.Read(pay::GetCharityCampaignRequest) -> pay::CharityCampaign;
}
