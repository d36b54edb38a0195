//! The gRPC face of the users service: parse requests, call the use case, shape the reply.

mod convert;

use tonic::{Request, Response, Status};
use tuan_eventstore::EventMeta;
use tuan_proto::users::v1::{self as pb, users_service_server::UsersService};
use tuan_runtime::{
    ApiError,
    auth::{Caller, caller},
    grpc::{client_address, event_meta, parse_uuid},
    paging::{Page, bad_cursor},
};
use uuid::Uuid;

use crate::{
    app::UsersApp,
    domain::{
        friendship::{FriendAction, RequestMessage},
        merchant::BusinessDetails,
        phone_code::CodePurpose,
        profile::{AvatarUrl, DisplayName, MarketplaceAccountId, ProfilePatch, Region},
        user::Role,
    },
};

pub use tuan_proto::users::v1::users_service_server::UsersServiceServer;

/// The users gRPC service.
#[derive(Clone)]
pub struct UsersApi {
    app: UsersApp,
}

impl UsersApi {
    pub fn new(app: UsersApp) -> Self {
        Self { app }
    }

    async fn friend_action(
        &self,
        request: Request<pb::FriendTarget>,
        action: FriendAction,
    ) -> Result<Response<pb::FriendshipResponse>, Status> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let other = parse_uuid("user_id", &request.get_ref().user_id)?;
        let relation = self.app.befriend(&meta, &caller, other, action).await?;
        Ok(Response::new(pb::FriendshipResponse {
            user_id: other.to_string(),
            state: convert::relation(relation) as i32,
        }))
    }
}

type Reply<T> = Result<Response<T>, Status>;

/// The caller (an operator: anyone else learns nothing of the request's checks), the event
/// metadata, and the user and role a GrantRole or RevokeRole names.
fn role_change<T>(request: &Request<T>, user_id: &str, role: &str) -> Result<(Caller, EventMeta, Uuid, Role), Status> {
    let caller = caller(request)?;
    caller.require_operator()?;
    let user = parse_uuid("user_id", user_id)?;
    let role = Role::parse(role).map_err(ApiError::from)?;
    Ok((caller, event_meta(request), user, role))
}

#[tonic::async_trait]
impl UsersService for UsersApi {
    async fn request_phone_code(
        &self,
        request: Request<pb::RequestPhoneCodeRequest>,
    ) -> Reply<pb::RequestPhoneCodeResponse> {
        let client = client_address(&request);
        let r = request.into_inner();
        let purpose = match r.purpose() {
            pb::PhoneCodePurpose::SignUp => CodePurpose::SignUp,
            pb::PhoneCodePurpose::ResetPassword => CodePurpose::ResetPassword,
            pb::PhoneCodePurpose::Unspecified => {
                return Err(ApiError::invalid("purpose must be SIGN_UP or RESET_PASSWORD").into());
            }
        };
        let sent = self.app.request_phone_code(&r.phone, purpose, &client).await?;
        let secs = |d: std::time::Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        Ok(Response::new(pb::RequestPhoneCodeResponse {
            expires_in_secs: secs(sent.expires_in),
            resend_after_secs: secs(sent.resend_after),
        }))
    }

    async fn sign_up(&self, request: Request<pb::SignUpRequest>) -> Reply<pb::AuthTokens> {
        let meta = event_meta(&request);
        let r = request.into_inner();
        let tokens = self.app.sign_up(&meta, &r.phone, &r.code, r.password, &r.display_name, &r.region).await?;
        Ok(Response::new(convert::tokens(tokens)))
    }

    async fn reset_password(&self, request: Request<pb::ResetPasswordRequest>) -> Reply<pb::AuthTokens> {
        let meta = event_meta(&request);
        let r = request.into_inner();
        Ok(Response::new(convert::tokens(self.app.reset_password(&meta, &r.phone, &r.code, r.new_password).await?)))
    }

    async fn login(&self, request: Request<pb::LoginRequest>) -> Reply<pb::AuthTokens> {
        let meta = event_meta(&request);
        let r = request.into_inner();
        Ok(Response::new(convert::tokens(self.app.login(&meta, &r.phone, r.password).await?)))
    }

    async fn refresh(&self, request: Request<pb::RefreshRequest>) -> Reply<pb::AuthTokens> {
        let meta = event_meta(&request);
        Ok(Response::new(convert::tokens(self.app.refresh(&meta, &request.get_ref().refresh_token).await?)))
    }

    async fn logout(&self, request: Request<pb::LogoutRequest>) -> Reply<pb::LogoutResponse> {
        let meta = event_meta(&request);
        self.app.logout(&meta, &request.get_ref().refresh_token).await?;
        Ok(Response::new(pb::LogoutResponse {}))
    }

    async fn logout_everywhere(
        &self,
        request: Request<pb::LogoutEverywhereRequest>,
    ) -> Reply<pb::LogoutEverywhereResponse> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let ended_sessions = self.app.logout_everywhere(&meta, &caller).await?;
        Ok(Response::new(pb::LogoutEverywhereResponse { ended_sessions }))
    }

    async fn change_password(&self, request: Request<pb::ChangePasswordRequest>) -> Reply<pb::ChangePasswordResponse> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.into_inner();
        let ended_sessions = self.app.change_password(&meta, &caller, r.old_password, r.new_password).await?;
        Ok(Response::new(pb::ChangePasswordResponse { ended_sessions }))
    }

    async fn get_me(&self, request: Request<pb::GetMeRequest>) -> Reply<pb::User> {
        let caller = caller(&request)?;
        Ok(Response::new(convert::user(self.app.me(&caller).await?)))
    }

    async fn get_profiles(&self, request: Request<pb::GetProfilesRequest>) -> Reply<pb::GetProfilesResponse> {
        caller(&request)?;
        let ids =
            request.get_ref().user_ids.iter().map(|id| parse_uuid("user_ids", id)).collect::<Result<Vec<_>, _>>()?;
        let profiles = self.app.profiles(&ids).await?.into_iter().map(convert::profile).collect();
        Ok(Response::new(pb::GetProfilesResponse { profiles }))
    }

    async fn update_profile(&self, request: Request<pb::UpdateProfileRequest>) -> Reply<pb::User> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.into_inner();
        let patch = ProfilePatch {
            display_name: r.display_name.as_deref().map(DisplayName::parse).transpose().map_err(ApiError::from)?,
            avatar_url: r.avatar_url.as_deref().map(AvatarUrl::parse).transpose().map_err(ApiError::from)?,
            region: r.region.as_deref().map(Region::parse).transpose().map_err(ApiError::from)?,
            marketplace_account_id: r
                .marketplace_account_id
                .as_deref()
                .map(MarketplaceAccountId::parse)
                .transpose()
                .map_err(ApiError::from)?,
        };
        Ok(Response::new(convert::user(self.app.update_profile(&meta, &caller, patch).await?)))
    }

    async fn send_friend_request(
        &self,
        request: Request<pb::SendFriendRequestRequest>,
    ) -> Reply<pb::FriendshipResponse> {
        // Who is asking comes first: an unauthenticated caller learns nothing of the rules.
        caller(&request)?;
        let message = RequestMessage::parse(&request.get_ref().message).map_err(ApiError::from)?;
        let user_id = request.get_ref().user_id.clone();
        let (metadata, extensions, _) = request.into_parts();
        let target = Request::from_parts(metadata, extensions, pb::FriendTarget { user_id });
        self.friend_action(target, FriendAction::Request(message)).await
    }

    async fn cancel_friend_request(&self, request: Request<pb::FriendTarget>) -> Reply<pb::FriendshipResponse> {
        self.friend_action(request, FriendAction::Cancel).await
    }

    async fn accept_friend_request(&self, request: Request<pb::FriendTarget>) -> Reply<pb::FriendshipResponse> {
        self.friend_action(request, FriendAction::Accept).await
    }

    async fn decline_friend_request(&self, request: Request<pb::FriendTarget>) -> Reply<pb::FriendshipResponse> {
        self.friend_action(request, FriendAction::Decline).await
    }

    async fn remove_friend(&self, request: Request<pb::FriendTarget>) -> Reply<pb::FriendshipResponse> {
        self.friend_action(request, FriendAction::Remove).await
    }

    async fn block_user(&self, request: Request<pb::FriendTarget>) -> Reply<pb::FriendshipResponse> {
        self.friend_action(request, FriendAction::Block).await
    }

    async fn unblock_user(&self, request: Request<pb::FriendTarget>) -> Reply<pb::FriendshipResponse> {
        self.friend_action(request, FriendAction::Unblock).await
    }

    async fn list_friends(&self, request: Request<pb::ListFriendsRequest>) -> Reply<pb::ListFriendsResponse> {
        let caller = caller(&request)?;
        let page = Page::parse(request.get_ref().page.as_ref())?;
        let after = page.cursor.as_deref().map(|c| parse_uuid("cursor", c).map_err(|_| bad_cursor())).transpose()?;
        let mut rows = self.app.friends(&caller, after, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut rows, |r| r.profile.user_id.to_string());
        let friends = rows
            .into_iter()
            .map(|r| pb::Friend {
                since_micros: r.since.timestamp_micros(),
                profile: Some(convert::profile(r.profile)),
            })
            .collect();
        Ok(Response::new(pb::ListFriendsResponse { friends, next_cursor }))
    }

    async fn list_friend_requests(
        &self,
        request: Request<pb::ListFriendRequestsRequest>,
    ) -> Reply<pb::ListFriendRequestsResponse> {
        use pb::list_friend_requests_request::Direction;
        let caller = caller(&request)?;
        let incoming = match request.get_ref().direction() {
            Direction::Incoming | Direction::Unspecified => true,
            Direction::Outgoing => false,
        };
        let rows = self.app.friend_requests(&caller, incoming).await?;
        let mut ids: Vec<_> = rows.iter().flat_map(|r| [r.from_id, r.to_id]).collect();
        ids.sort();
        ids.dedup();
        let profiles = self.app.profiles(&ids).await?;
        let find = |id| profiles.iter().find(|p| p.user_id == id).cloned().map(convert::profile);
        let requests = rows
            .into_iter()
            .map(|r| pb::FriendRequest {
                from: find(r.from_id),
                to: find(r.to_id),
                message: r.message,
                requested_at_micros: r.requested_at.timestamp_micros(),
            })
            .collect();
        Ok(Response::new(pb::ListFriendRequestsResponse { requests }))
    }

    async fn get_discovery_salt(
        &self,
        _request: Request<pb::GetDiscoverySaltRequest>,
    ) -> Reply<pb::GetDiscoverySaltResponse> {
        let salt = self.app.discovery_salt();
        Ok(Response::new(pb::GetDiscoverySaltResponse {
            salt: salt.salt,
            salt_id: salt.id,
            expires_at_micros: salt.expires_at.timestamp_micros(),
        }))
    }

    async fn discover_friends(
        &self,
        request: Request<pb::DiscoverFriendsRequest>,
    ) -> Reply<pb::DiscoverFriendsResponse> {
        let caller = caller(&request)?;
        let r = request.into_inner();
        let found = self.app.discover(&caller, r.salt_id, r.phone_hashes).await?;
        let matches = found
            .into_iter()
            .map(|(row, relation)| pb::DiscoveredUser {
                phone_hash: row.phone_hash,
                profile: Some(convert::profile(row.profile)),
                state: convert::relation(relation) as i32,
            })
            .collect();
        Ok(Response::new(pb::DiscoverFriendsResponse { matches }))
    }

    async fn apply_merchant(&self, request: Request<pb::ApplyMerchantRequest>) -> Reply<pb::MerchantApplication> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let details = BusinessDetails::parse(&r.business_name, &r.license_number, &r.contact_phone, &r.category)
            .map_err(ApiError::from)?;
        Ok(Response::new(convert::application(self.app.apply_merchant(&meta, &caller, details).await?)))
    }

    async fn get_merchant_application(
        &self,
        request: Request<pb::GetMerchantApplicationRequest>,
    ) -> Reply<pb::MerchantApplication> {
        let caller = caller(&request)?;
        let user_id = &request.get_ref().user_id;
        let user = (!user_id.is_empty()).then(|| parse_uuid("user_id", user_id)).transpose()?;
        Ok(Response::new(convert::application(self.app.application(&caller, user).await?)))
    }

    async fn list_merchant_applications(
        &self,
        request: Request<pb::ListMerchantApplicationsRequest>,
    ) -> Reply<pb::ListMerchantApplicationsResponse> {
        let caller = caller(&request)?;
        let page = Page::parse(request.get_ref().page.as_ref())?;
        let status = convert::status_filter(request.get_ref().status())?;
        let after = page.cursor.as_deref().map(convert::parse_application_cursor).transpose()?;
        let mut rows = self.app.applications(&caller, status, after, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut rows, convert::application_cursor);
        Ok(Response::new(pb::ListMerchantApplicationsResponse {
            applications: rows.into_iter().map(convert::application).collect(),
            next_cursor,
        }))
    }

    async fn verify_merchant(&self, request: Request<pb::VerifyMerchantRequest>) -> Reply<pb::MerchantApplication> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let user = parse_uuid("user_id", &request.get_ref().user_id)?;
        Ok(Response::new(convert::application(self.app.decide_merchant(&meta, &caller, user, None).await?)))
    }

    async fn reject_merchant(&self, request: Request<pb::RejectMerchantRequest>) -> Reply<pb::MerchantApplication> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let user = parse_uuid("user_id", &request.get_ref().user_id)?;
        let reason = request.get_ref().reason.clone();
        Ok(Response::new(convert::application(self.app.decide_merchant(&meta, &caller, user, Some(reason)).await?)))
    }

    async fn grant_role(&self, request: Request<pb::GrantRoleRequest>) -> Reply<pb::RoleChangeResponse> {
        let (user_id, role) = (&request.get_ref().user_id, &request.get_ref().role);
        let (caller, meta, user, role) = role_change(&request, user_id, role)?;
        let roles = self.app.grant_role(&meta, &caller, user, role).await?;
        Ok(Response::new(pb::RoleChangeResponse { user_id: user.to_string(), roles }))
    }

    async fn revoke_role(&self, request: Request<pb::RevokeRoleRequest>) -> Reply<pb::RoleChangeResponse> {
        let (user_id, role) = (&request.get_ref().user_id, &request.get_ref().role);
        let (caller, meta, user, role) = role_change(&request, user_id, role)?;
        let roles = self.app.revoke_role(&meta, &caller, user, role).await?;
        Ok(Response::new(pb::RoleChangeResponse { user_id: user.to_string(), roles }))
    }

    async fn list_role_changes(
        &self,
        request: Request<pb::ListRoleChangesRequest>,
    ) -> Reply<pb::ListRoleChangesResponse> {
        let caller = caller(&request)?;
        caller.require_operator()?;
        let page = Page::parse(request.get_ref().page.as_ref())?;
        let before = page.cursor.as_deref().map(|c| c.parse::<i64>().map_err(|_| bad_cursor())).transpose()?;
        let mut rows = self.app.role_changes(&caller, before, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut rows, |r| r.position.to_string());
        let changes = rows
            .into_iter()
            .map(|r| pb::RoleChange {
                user_id: r.user_id.to_string(),
                role: r.role,
                change: r.change,
                changed_by: r.changed_by,
                changed_at_micros: r.changed_at.timestamp_micros(),
            })
            .collect();
        Ok(Response::new(pb::ListRoleChangesResponse { changes, next_cursor }))
    }
}
