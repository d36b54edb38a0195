//! The authorization matrix: for every RPC every tuan process serves, who may call it.
//!
//! One row per RPC, named by its gRPC path (`package.Service/Method`). Each service's
//! `tests/authz.rs` walks its rows and proves every refusal (no, expired, forged or malformed
//! token; a normal user where a role is needed; a stranger on someone else's resource), and
//! `tests/authz_matrix.rs` here fails when an RPC exists in the protobuf descriptors without a
//! row, so a new RPC cannot ship without an authorization decision.
//!
//! The walkers that prove the rows against a running process live here too
//! ([`check_service`], [`check_admin`], [`assert_probes_are_public`]), built on [`crate::rpc`]'s
//! raw calls; `rpc` knows nothing of the matrix.
//!
//! Refusals are what the services decide today: `PERMISSION_DENIED` where the resource's
//! existence is no secret to the caller, `NOT_FOUND` where the service hides it (a private
//! group circle from strangers, another buyer's join, a friend request that is not yours).

use tonic::Code;

/// Who may call an RPC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without an access token: how one gets a token (the refresh token is the
    /// credential of Refresh and Logout), or a probe of health or reflection.
    Public,
    /// Any signed-in user. The RPC acts on the caller's own data (identity from the token, no
    /// request field names another user's resource) or on data open to every user.
    SignedIn,
    /// Signed in with this role; everyone else gets `PERMISSION_DENIED`.
    Role(Role),
    /// Signed in and party to the named resource; anyone else gets `refusal` and nothing
    /// changes.
    Party { resource: &'static str, refusal: Code },
    /// A gateway pass-through: the gateway refuses a missing or bad token itself, then
    /// forwards the call (and the token) to this backend RPC, whose row decides the rest.
    Forwarded(&'static str),
}

/// Roles some RPCs need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// `operator` in the token (granted by another operator, the first inside the deployment).
    Operator,
    /// A merchant the users service verified (known to other services from its events).
    VerifiedMerchant,
    /// Either of the two.
    OperatorOrVerifiedMerchant,
}

/// One row of the matrix.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    /// `tuan.users.v1.UsersService/SignUp`.
    pub rpc: &'static str,
    pub access: Access,
}

impl Rule {
    /// `tuan.users.v1.UsersService`.
    pub fn service(&self) -> &'static str {
        self.rpc.split_once('/').map(|(s, _)| s).unwrap_or(self.rpc)
    }

    /// `SignUp`.
    pub fn method(&self) -> &'static str {
        self.rpc.split_once('/').map(|(_, m)| m).unwrap_or_default()
    }

    pub fn is_public(&self) -> bool {
        self.access == Access::Public
    }
}

pub const USERS: &str = "tuan.users.v1.UsersService";
pub const CIRCLES: &str = "tuan.circles.v1.CirclesService";
pub const GROUPBUY: &str = "tuan.groupbuy.v1.GroupBuyService";
pub const PAYMENTS: &str = "tuan.payments.v1.PaymentsService";
pub const GATEWAY: &str = "tuan.gateway.v1.MobileGateway";
/// The operator-only admin API served by users, circles, groupbuy and payments.
pub const ADMIN: &str = "tuan.admin.v1.Admin";
/// Served by every process next to its API (see `tuan_runtime::grpc::router`).
pub const HEALTH: &str = "grpc.health.v1.Health";
pub const REFLECTION_V1: &str = "grpc.reflection.v1.ServerReflection";
pub const REFLECTION_V1ALPHA: &str = "grpc.reflection.v1alpha.ServerReflection";

use Access::{Forwarded, Public, SignedIn};

const fn rule(rpc: &'static str, access: Access) -> Rule {
    Rule { rpc, access }
}

const fn role(rpc: &'static str, role: Role) -> Rule {
    Rule { rpc, access: Access::Role(role) }
}

const fn party(rpc: &'static str, resource: &'static str, refusal: Code) -> Rule {
    Rule { rpc, access: Access::Party { resource, refusal } }
}

const DENIED: Code = Code::PermissionDenied;
const HIDDEN: Code = Code::NotFound;

/// Every RPC and its decision.
pub const MATRIX: &[Rule] = &[
    // ---- served by every process ----
    rule("grpc.health.v1.Health/Check", Public),
    rule("grpc.health.v1.Health/Watch", Public),
    rule("grpc.reflection.v1.ServerReflection/ServerReflectionInfo", Public),
    rule("grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", Public),
    // ---- admin: served by every service with a database; operators only ----
    role("tuan.admin.v1.Admin/GetBacklog", Role::Operator),
    role("tuan.admin.v1.Admin/ListDeadLetters", Role::Operator),
    role("tuan.admin.v1.Admin/RedriveDeadLetter", Role::Operator),
    role("tuan.admin.v1.Admin/RebuildProjections", Role::Operator),
    role("tuan.admin.v1.Admin/ListStuckSagas", Role::Operator),
    role("tuan.admin.v1.Admin/ReadStream", Role::Operator),
    // ---- users ----
    rule("tuan.users.v1.UsersService/RequestPhoneCode", Public),
    rule("tuan.users.v1.UsersService/SignUp", Public),
    rule("tuan.users.v1.UsersService/ResetPassword", Public),
    rule("tuan.users.v1.UsersService/Login", Public),
    rule("tuan.users.v1.UsersService/Refresh", Public),
    rule("tuan.users.v1.UsersService/Logout", Public),
    rule("tuan.users.v1.UsersService/GetDiscoverySalt", Public),
    rule("tuan.users.v1.UsersService/LogoutEverywhere", SignedIn),
    rule("tuan.users.v1.UsersService/ChangePassword", SignedIn),
    rule("tuan.users.v1.UsersService/GetMe", SignedIn),
    rule("tuan.users.v1.UsersService/GetProfiles", SignedIn),
    rule("tuan.users.v1.UsersService/UpdateProfile", SignedIn),
    rule("tuan.users.v1.UsersService/SendFriendRequest", SignedIn),
    party("tuan.users.v1.UsersService/CancelFriendRequest", "a friend request the caller sent", HIDDEN),
    party("tuan.users.v1.UsersService/AcceptFriendRequest", "a friend request sent to the caller", HIDDEN),
    party("tuan.users.v1.UsersService/DeclineFriendRequest", "a friend request sent to the caller", HIDDEN),
    party("tuan.users.v1.UsersService/RemoveFriend", "the caller's own friendship", HIDDEN),
    rule("tuan.users.v1.UsersService/BlockUser", SignedIn),
    rule("tuan.users.v1.UsersService/UnblockUser", SignedIn),
    rule("tuan.users.v1.UsersService/ListFriends", SignedIn),
    rule("tuan.users.v1.UsersService/ListFriendRequests", SignedIn),
    rule("tuan.users.v1.UsersService/DiscoverFriends", SignedIn),
    rule("tuan.users.v1.UsersService/ApplyMerchant", SignedIn),
    party("tuan.users.v1.UsersService/GetMerchantApplication", "the caller's own application (operators: any)", DENIED),
    role("tuan.users.v1.UsersService/ListMerchantApplications", Role::Operator),
    role("tuan.users.v1.UsersService/VerifyMerchant", Role::Operator),
    role("tuan.users.v1.UsersService/RejectMerchant", Role::Operator),
    role("tuan.users.v1.UsersService/GrantRole", Role::Operator),
    role("tuan.users.v1.UsersService/RevokeRole", Role::Operator),
    role("tuan.users.v1.UsersService/ListRoleChanges", Role::Operator),
    // ---- circles ----
    rule("tuan.circles.v1.CirclesService/CreateCircle", SignedIn),
    party("tuan.circles.v1.CirclesService/GetCircle", "a group's members and invitees (clusters are open)", HIDDEN),
    party("tuan.circles.v1.CirclesService/RenameCircle", "the circle's admins", DENIED),
    party("tuan.circles.v1.CirclesService/SetTopic", "the circle's admins", DENIED),
    party("tuan.circles.v1.CirclesService/SetApprovalRequired", "the circle's admins", DENIED),
    party("tuan.circles.v1.CirclesService/SetMemberCap", "the circle's owner", DENIED),
    party("tuan.circles.v1.CirclesService/TransferOwnership", "the circle's owner", DENIED),
    party("tuan.circles.v1.CirclesService/DissolveCircle", "the circle's owner", DENIED),
    party("tuan.circles.v1.CirclesService/InviteMember", "the circle's members", DENIED),
    party("tuan.circles.v1.CirclesService/ApproveInvitation", "the circle's admins", DENIED),
    party("tuan.circles.v1.CirclesService/DeclineInvitation", "the circle's admins, or the invitee", DENIED),
    party(
        "tuan.circles.v1.CirclesService/JoinCircle",
        "a group's invitees (clusters are open)",
        Code::FailedPrecondition,
    ),
    party("tuan.circles.v1.CirclesService/LeaveCircle", "the caller's own membership", DENIED),
    party("tuan.circles.v1.CirclesService/KickMember", "the circle's admins", DENIED),
    party("tuan.circles.v1.CirclesService/PromoteAdmin", "the circle's owner", DENIED),
    party("tuan.circles.v1.CirclesService/DemoteAdmin", "the circle's owner", DENIED),
    party("tuan.circles.v1.CirclesService/MuteCircle", "the caller's own membership", DENIED),
    rule("tuan.circles.v1.CirclesService/ListMyCircles", SignedIn),
    party("tuan.circles.v1.CirclesService/ListMembers", "the circle's members", DENIED),
    party("tuan.circles.v1.CirclesService/CreatePost", "the circle's members", DENIED),
    party("tuan.circles.v1.CirclesService/ListPosts", "the circle's members", DENIED),
    // The caller's own circles (as ListMyCircles) and their posts (the caller is a member).
    rule("tuan.circles.v1.CirclesService/ListMyCirclePosts", SignedIn),
    rule("tuan.circles.v1.CirclesService/PostMoment", SignedIn),
    rule("tuan.circles.v1.CirclesService/GetTimeline", SignedIn),
    role("tuan.circles.v1.CirclesService/SetPremium", Role::Operator),
    role("tuan.circles.v1.CirclesService/OpenPublicAccount", Role::VerifiedMerchant),
    rule("tuan.circles.v1.CirclesService/GetPublicAccount", SignedIn),
    rule("tuan.circles.v1.CirclesService/FollowAccount", SignedIn),
    rule("tuan.circles.v1.CirclesService/UnfollowAccount", SignedIn),
    rule("tuan.circles.v1.CirclesService/MuteAccount", SignedIn),
    party("tuan.circles.v1.CirclesService/Broadcast", "the public account's owner", DENIED),
    rule("tuan.circles.v1.CirclesService/ListInbox", SignedIn),
    // ---- group buying ----
    role("tuan.groupbuy.v1.GroupBuyService/LaunchCampaign", Role::VerifiedMerchant),
    party("tuan.groupbuy.v1.GroupBuyService/PauseCampaign", "the campaign's merchant", DENIED),
    party("tuan.groupbuy.v1.GroupBuyService/ResumeCampaign", "the campaign's merchant", DENIED),
    party("tuan.groupbuy.v1.GroupBuyService/EndCampaign", "the campaign's merchant", DENIED),
    rule("tuan.groupbuy.v1.GroupBuyService/GetCampaign", SignedIn),
    rule("tuan.groupbuy.v1.GroupBuyService/ListActiveCampaigns", SignedIn),
    party("tuan.groupbuy.v1.GroupBuyService/GetCampaignStats", "the campaign's merchant", DENIED),
    rule("tuan.groupbuy.v1.GroupBuyService/OpenTeam", SignedIn),
    // The team id is the share link: whoever has it may join.
    rule("tuan.groupbuy.v1.GroupBuyService/JoinTeam", SignedIn),
    party("tuan.groupbuy.v1.GroupBuyService/LeaveTeam", "the team's members", HIDDEN),
    rule("tuan.groupbuy.v1.GroupBuyService/GetTeam", SignedIn),
    rule("tuan.groupbuy.v1.GroupBuyService/ListMyTeams", SignedIn),
    rule("tuan.groupbuy.v1.GroupBuyService/ListCampaignTeams", SignedIn),
    // Batch of GetTeam, ListCampaignTeams and GetCampaign, each open to every signed-in user.
    rule("tuan.groupbuy.v1.GroupBuyService/ListOpenTeams", SignedIn),
    rule("tuan.groupbuy.v1.GroupBuyService/JoinCampaign", SignedIn),
    party("tuan.groupbuy.v1.GroupBuyService/GetJoin", "the buyer, or the campaign's merchant", HIDDEN),
    rule("tuan.groupbuy.v1.GroupBuyService/WatchCampaign", SignedIn),
    rule("tuan.groupbuy.v1.GroupBuyService/WatchTeam", SignedIn),
    // The caller's own campaigns (no request field names a merchant).
    rule("tuan.groupbuy.v1.GroupBuyService/ListMyCampaigns", SignedIn),
    // ---- payments ----
    rule("tuan.payments.v1.PaymentsService/TopUp", SignedIn),
    party("tuan.payments.v1.PaymentsService/GetTopUp", "the requester (operators: any)", DENIED),
    rule("tuan.payments.v1.PaymentsService/Withdraw", SignedIn),
    party("tuan.payments.v1.PaymentsService/GetWithdrawal", "the requester (operators: any)", DENIED),
    // From the caller's own wallet only, to a friend.
    rule("tuan.payments.v1.PaymentsService/Transfer", SignedIn),
    // Empty user_id: the caller's own wallet; another user's only for an operator.
    party("tuan.payments.v1.PaymentsService/GetWallet", "the wallet's owner (operators: any)", DENIED),
    rule("tuan.payments.v1.PaymentsService/GetStatement", SignedIn),
    role("tuan.payments.v1.PaymentsService/PlaceHold", Role::Operator),
    role("tuan.payments.v1.PaymentsService/CaptureHold", Role::Operator),
    role("tuan.payments.v1.PaymentsService/ReleaseHold", Role::Operator),
    party("tuan.payments.v1.PaymentsService/GetHold", "the hold's payer (operators: any)", DENIED),
    party(
        "tuan.payments.v1.PaymentsService/CreateBill",
        "bills the caller paid or takes part in, among a circle's members (no circle: the caller's friends)",
        DENIED,
    ),
    party("tuan.payments.v1.PaymentsService/GetBill", "the bill's payers and participants", DENIED),
    rule("tuan.payments.v1.PaymentsService/ListBills", SignedIn),
    party("tuan.payments.v1.PaymentsService/OpenCollection", "the bill's payer, in the bill's circle", DENIED),
    party(
        "tuan.payments.v1.PaymentsService/PayCollection",
        "the participants asked to pay, in the bill's circle",
        DENIED,
    ),
    party("tuan.payments.v1.PaymentsService/RemindCollection", "the collection's organiser", DENIED),
    party("tuan.payments.v1.PaymentsService/CloseCollection", "the collection's organiser", DENIED),
    party("tuan.payments.v1.PaymentsService/GetCollection", "the organiser and the participants", DENIED),
    // Only collections the caller organises or is asked to pay in (no request field names one).
    rule("tuan.payments.v1.PaymentsService/ListMyOpenCollections", SignedIn),
    // "In a circle": its members, and those who left or were kicked while they still owe or are
    // owed there (so a debt stays payable); a dissolved circle's members stay members.
    party("tuan.payments.v1.PaymentsService/GetGroupBalances", "a circle's members (friend: own pair)", DENIED),
    party("tuan.payments.v1.PaymentsService/SettleUp", "a circle's members (friend: own pair)", DENIED),
    role("tuan.payments.v1.PaymentsService/CreateCharityCampaign", Role::OperatorOrVerifiedMerchant),
    rule("tuan.payments.v1.PaymentsService/Donate", SignedIn),
    rule("tuan.payments.v1.PaymentsService/GetCharityCampaign", SignedIn),
    // ---- gateway: screens show the caller's own data; the rest is passed through ----
    rule("tuan.gateway.v1.MobileGateway/Home", SignedIn),
    rule("tuan.gateway.v1.MobileGateway/CampaignDetail", SignedIn),
    rule("tuan.gateway.v1.MobileGateway/Wallet", SignedIn),
    rule("tuan.gateway.v1.MobileGateway/RequestPhoneCode", Public),
    rule("tuan.gateway.v1.MobileGateway/SignUp", Public),
    rule("tuan.gateway.v1.MobileGateway/ResetPassword", Public),
    rule("tuan.gateway.v1.MobileGateway/Login", Public),
    rule("tuan.gateway.v1.MobileGateway/Refresh", Public),
    rule("tuan.gateway.v1.MobileGateway/GetDiscoverySalt", Public),
    // The gateway wants an access token for Logout too: it is a signed-in user's action.
    rule("tuan.gateway.v1.MobileGateway/Logout", Forwarded("tuan.users.v1.UsersService/Logout")),
    rule("tuan.gateway.v1.MobileGateway/LogoutEverywhere", Forwarded("tuan.users.v1.UsersService/LogoutEverywhere")),
    rule("tuan.gateway.v1.MobileGateway/ChangePassword", Forwarded("tuan.users.v1.UsersService/ChangePassword")),
    rule("tuan.gateway.v1.MobileGateway/GetMe", Forwarded("tuan.users.v1.UsersService/GetMe")),
    rule("tuan.gateway.v1.MobileGateway/UpdateProfile", Forwarded("tuan.users.v1.UsersService/UpdateProfile")),
    rule("tuan.gateway.v1.MobileGateway/GetProfiles", Forwarded("tuan.users.v1.UsersService/GetProfiles")),
    rule("tuan.gateway.v1.MobileGateway/SendFriendRequest", Forwarded("tuan.users.v1.UsersService/SendFriendRequest")),
    rule(
        "tuan.gateway.v1.MobileGateway/AcceptFriendRequest",
        Forwarded("tuan.users.v1.UsersService/AcceptFriendRequest"),
    ),
    rule(
        "tuan.gateway.v1.MobileGateway/DeclineFriendRequest",
        Forwarded("tuan.users.v1.UsersService/DeclineFriendRequest"),
    ),
    rule("tuan.gateway.v1.MobileGateway/RemoveFriend", Forwarded("tuan.users.v1.UsersService/RemoveFriend")),
    rule("tuan.gateway.v1.MobileGateway/BlockUser", Forwarded("tuan.users.v1.UsersService/BlockUser")),
    rule("tuan.gateway.v1.MobileGateway/UnblockUser", Forwarded("tuan.users.v1.UsersService/UnblockUser")),
    rule("tuan.gateway.v1.MobileGateway/ListFriends", Forwarded("tuan.users.v1.UsersService/ListFriends")),
    rule(
        "tuan.gateway.v1.MobileGateway/ListFriendRequests",
        Forwarded("tuan.users.v1.UsersService/ListFriendRequests"),
    ),
    rule("tuan.gateway.v1.MobileGateway/DiscoverFriends", Forwarded("tuan.users.v1.UsersService/DiscoverFriends")),
    rule("tuan.gateway.v1.MobileGateway/ApplyMerchant", Forwarded("tuan.users.v1.UsersService/ApplyMerchant")),
    rule(
        "tuan.gateway.v1.MobileGateway/GetMerchantApplication",
        Forwarded("tuan.users.v1.UsersService/GetMerchantApplication"),
    ),
    rule(
        "tuan.gateway.v1.MobileGateway/ListMerchantApplications",
        Forwarded("tuan.users.v1.UsersService/ListMerchantApplications"),
    ),
    rule("tuan.gateway.v1.MobileGateway/VerifyMerchant", Forwarded("tuan.users.v1.UsersService/VerifyMerchant")),
    rule("tuan.gateway.v1.MobileGateway/RejectMerchant", Forwarded("tuan.users.v1.UsersService/RejectMerchant")),
    rule("tuan.gateway.v1.MobileGateway/GrantRole", Forwarded("tuan.users.v1.UsersService/GrantRole")),
    rule("tuan.gateway.v1.MobileGateway/RevokeRole", Forwarded("tuan.users.v1.UsersService/RevokeRole")),
    rule("tuan.gateway.v1.MobileGateway/ListRoleChanges", Forwarded("tuan.users.v1.UsersService/ListRoleChanges")),
    rule("tuan.gateway.v1.MobileGateway/CreateCircle", Forwarded("tuan.circles.v1.CirclesService/CreateCircle")),
    rule("tuan.gateway.v1.MobileGateway/GetCircle", Forwarded("tuan.circles.v1.CirclesService/GetCircle")),
    rule("tuan.gateway.v1.MobileGateway/InviteMember", Forwarded("tuan.circles.v1.CirclesService/InviteMember")),
    rule(
        "tuan.gateway.v1.MobileGateway/ApproveInvitation",
        Forwarded("tuan.circles.v1.CirclesService/ApproveInvitation"),
    ),
    rule(
        "tuan.gateway.v1.MobileGateway/DeclineInvitation",
        Forwarded("tuan.circles.v1.CirclesService/DeclineInvitation"),
    ),
    rule("tuan.gateway.v1.MobileGateway/JoinCircle", Forwarded("tuan.circles.v1.CirclesService/JoinCircle")),
    rule("tuan.gateway.v1.MobileGateway/LeaveCircle", Forwarded("tuan.circles.v1.CirclesService/LeaveCircle")),
    rule("tuan.gateway.v1.MobileGateway/MuteCircle", Forwarded("tuan.circles.v1.CirclesService/MuteCircle")),
    rule("tuan.gateway.v1.MobileGateway/ListMyCircles", Forwarded("tuan.circles.v1.CirclesService/ListMyCircles")),
    rule("tuan.gateway.v1.MobileGateway/ListMembers", Forwarded("tuan.circles.v1.CirclesService/ListMembers")),
    rule("tuan.gateway.v1.MobileGateway/CreatePost", Forwarded("tuan.circles.v1.CirclesService/CreatePost")),
    rule("tuan.gateway.v1.MobileGateway/ListPosts", Forwarded("tuan.circles.v1.CirclesService/ListPosts")),
    rule("tuan.gateway.v1.MobileGateway/PostMoment", Forwarded("tuan.circles.v1.CirclesService/PostMoment")),
    rule("tuan.gateway.v1.MobileGateway/GetTimeline", Forwarded("tuan.circles.v1.CirclesService/GetTimeline")),
    rule("tuan.gateway.v1.MobileGateway/FollowAccount", Forwarded("tuan.circles.v1.CirclesService/FollowAccount")),
    rule("tuan.gateway.v1.MobileGateway/UnfollowAccount", Forwarded("tuan.circles.v1.CirclesService/UnfollowAccount")),
    rule("tuan.gateway.v1.MobileGateway/ListInbox", Forwarded("tuan.circles.v1.CirclesService/ListInbox")),
    rule("tuan.gateway.v1.MobileGateway/LaunchCampaign", Forwarded("tuan.groupbuy.v1.GroupBuyService/LaunchCampaign")),
    rule("tuan.gateway.v1.MobileGateway/PauseCampaign", Forwarded("tuan.groupbuy.v1.GroupBuyService/PauseCampaign")),
    rule("tuan.gateway.v1.MobileGateway/ResumeCampaign", Forwarded("tuan.groupbuy.v1.GroupBuyService/ResumeCampaign")),
    rule("tuan.gateway.v1.MobileGateway/EndCampaign", Forwarded("tuan.groupbuy.v1.GroupBuyService/EndCampaign")),
    rule("tuan.gateway.v1.MobileGateway/GetCampaign", Forwarded("tuan.groupbuy.v1.GroupBuyService/GetCampaign")),
    rule(
        "tuan.gateway.v1.MobileGateway/ListActiveCampaigns",
        Forwarded("tuan.groupbuy.v1.GroupBuyService/ListActiveCampaigns"),
    ),
    rule(
        "tuan.gateway.v1.MobileGateway/GetCampaignStats",
        Forwarded("tuan.groupbuy.v1.GroupBuyService/GetCampaignStats"),
    ),
    rule("tuan.gateway.v1.MobileGateway/OpenTeam", Forwarded("tuan.groupbuy.v1.GroupBuyService/OpenTeam")),
    rule("tuan.gateway.v1.MobileGateway/JoinTeam", Forwarded("tuan.groupbuy.v1.GroupBuyService/JoinTeam")),
    rule("tuan.gateway.v1.MobileGateway/LeaveTeam", Forwarded("tuan.groupbuy.v1.GroupBuyService/LeaveTeam")),
    rule("tuan.gateway.v1.MobileGateway/GetTeam", Forwarded("tuan.groupbuy.v1.GroupBuyService/GetTeam")),
    rule("tuan.gateway.v1.MobileGateway/ListMyTeams", Forwarded("tuan.groupbuy.v1.GroupBuyService/ListMyTeams")),
    rule(
        "tuan.gateway.v1.MobileGateway/ListCampaignTeams",
        Forwarded("tuan.groupbuy.v1.GroupBuyService/ListCampaignTeams"),
    ),
    rule("tuan.gateway.v1.MobileGateway/JoinCampaign", Forwarded("tuan.groupbuy.v1.GroupBuyService/JoinCampaign")),
    rule("tuan.gateway.v1.MobileGateway/GetJoin", Forwarded("tuan.groupbuy.v1.GroupBuyService/GetJoin")),
    rule("tuan.gateway.v1.MobileGateway/WatchCampaign", Forwarded("tuan.groupbuy.v1.GroupBuyService/WatchCampaign")),
    rule("tuan.gateway.v1.MobileGateway/WatchTeam", Forwarded("tuan.groupbuy.v1.GroupBuyService/WatchTeam")),
    rule("tuan.gateway.v1.MobileGateway/TopUp", Forwarded("tuan.payments.v1.PaymentsService/TopUp")),
    rule("tuan.gateway.v1.MobileGateway/GetTopUp", Forwarded("tuan.payments.v1.PaymentsService/GetTopUp")),
    rule("tuan.gateway.v1.MobileGateway/Withdraw", Forwarded("tuan.payments.v1.PaymentsService/Withdraw")),
    rule("tuan.gateway.v1.MobileGateway/GetWithdrawal", Forwarded("tuan.payments.v1.PaymentsService/GetWithdrawal")),
    rule("tuan.gateway.v1.MobileGateway/Transfer", Forwarded("tuan.payments.v1.PaymentsService/Transfer")),
    rule("tuan.gateway.v1.MobileGateway/GetStatement", Forwarded("tuan.payments.v1.PaymentsService/GetStatement")),
    rule("tuan.gateway.v1.MobileGateway/CreateBill", Forwarded("tuan.payments.v1.PaymentsService/CreateBill")),
    rule("tuan.gateway.v1.MobileGateway/GetBill", Forwarded("tuan.payments.v1.PaymentsService/GetBill")),
    rule("tuan.gateway.v1.MobileGateway/ListBills", Forwarded("tuan.payments.v1.PaymentsService/ListBills")),
    rule("tuan.gateway.v1.MobileGateway/OpenCollection", Forwarded("tuan.payments.v1.PaymentsService/OpenCollection")),
    rule("tuan.gateway.v1.MobileGateway/PayCollection", Forwarded("tuan.payments.v1.PaymentsService/PayCollection")),
    rule(
        "tuan.gateway.v1.MobileGateway/RemindCollection",
        Forwarded("tuan.payments.v1.PaymentsService/RemindCollection"),
    ),
    rule(
        "tuan.gateway.v1.MobileGateway/CloseCollection",
        Forwarded("tuan.payments.v1.PaymentsService/CloseCollection"),
    ),
    rule("tuan.gateway.v1.MobileGateway/GetCollection", Forwarded("tuan.payments.v1.PaymentsService/GetCollection")),
    rule(
        "tuan.gateway.v1.MobileGateway/GetGroupBalances",
        Forwarded("tuan.payments.v1.PaymentsService/GetGroupBalances"),
    ),
    rule("tuan.gateway.v1.MobileGateway/SettleUp", Forwarded("tuan.payments.v1.PaymentsService/SettleUp")),
    rule("tuan.gateway.v1.MobileGateway/Donate", Forwarded("tuan.payments.v1.PaymentsService/Donate")),
    rule(
        "tuan.gateway.v1.MobileGateway/GetCharityCampaign",
        Forwarded("tuan.payments.v1.PaymentsService/GetCharityCampaign"),
    ),
    rule(
        "tuan.gateway.v1.MobileGateway/OpenPublicAccount",
        Forwarded("tuan.circles.v1.CirclesService/OpenPublicAccount"),
    ),
    rule(
        "tuan.gateway.v1.MobileGateway/GetPublicAccount",
        Forwarded("tuan.circles.v1.CirclesService/GetPublicAccount"),
    ),
    rule("tuan.gateway.v1.MobileGateway/Broadcast", Forwarded("tuan.circles.v1.CirclesService/Broadcast")),
    rule("tuan.gateway.v1.MobileGateway/MuteAccount", Forwarded("tuan.circles.v1.CirclesService/MuteAccount")),
    rule(
        "tuan.gateway.v1.MobileGateway/ListMyCampaigns",
        Forwarded("tuan.groupbuy.v1.GroupBuyService/ListMyCampaigns"),
    ),
];

/// A valid request for an admin RPC (`method`), for the services' matrix checks: each names a
/// dead letter that does not exist, so nothing changes even if a refusal failed.
pub fn admin_request(method: &str) -> Vec<u8> {
    use prost::Message as _;
    use tuan_proto::admin::v1 as pb;
    match method {
        "GetBacklog" => pb::GetBacklogRequest {}.encode_to_vec(),
        "ListDeadLetters" => pb::ListDeadLettersRequest { limit: 10, ..Default::default() }.encode_to_vec(),
        "RedriveDeadLetter" => pb::RedriveDeadLetterRequest { id: i64::MAX }.encode_to_vec(),
        "RebuildProjections" => pb::RebuildProjectionsRequest {}.encode_to_vec(),
        "ListStuckSagas" => pb::ListStuckSagasRequest { older_than_seconds: 60, limit: 10 }.encode_to_vec(),
        "ReadStream" => {
            pb::ReadStreamRequest { stream_id: uuid::Uuid::nil().to_string(), limit: 10, ..Default::default() }
                .encode_to_vec()
        }
        other => panic!("no admin fixture request for {other}"),
    }
}

/// The row of `rpc` (`package.Service/Method`), if the matrix has one.
pub fn rule_of(rpc: &str) -> Option<&'static Rule> {
    MATRIX.iter().find(|r| r.rpc == rpc)
}

/// The rows of one service (`tuan.users.v1.UsersService`), in matrix order.
pub fn rules_of(service: &str) -> impl Iterator<Item = &'static Rule> + '_ {
    MATRIX.iter().filter(move |r| r.service() == service)
}

/// Every RPC in the protobuf descriptors the processes serve (tuan's own, health, reflection),
/// as `package.Service/Method`.
pub fn served_rpcs() -> Vec<String> {
    crate::rpc::Schema::served().rpcs()
}

/// The callers a service's matrix check uses.
pub struct Callers {
    /// The stranger: a signed-in user with no part in the fixture's resources (for a merchant's
    /// resources, another merchant).
    pub intruder: crate::rpc::Credential,
    /// A signed-in user without any role.
    pub plain_user: crate::rpc::Credential,
    /// Whom the bad credentials name (the victim, as a stolen or stale token would).
    pub victim: uuid::Uuid,
}

/// What a matrix check did.
#[derive(Debug, Default)]
pub struct Checked {
    pub rpcs: usize,
    pub calls: usize,
}

/// Proves the rows of `service` against the process behind `channel`:
///
/// 1. every RPC that needs a token refuses each bad credential with `UNAUTHENTICATED`, for
///    the fixture's request and for an empty one (authentication comes before validation);
/// 2. a role row refuses `plain_user`, a party row refuses `intruder`, with the row's code;
/// 3. a signed-in row lets `intruder` through (no `UNAUTHENTICATED`/`PERMISSION_DENIED`).
///
/// Each refusal must leave `snapshot` unchanged. `request(method)` is the fixture's request
/// for an RPC, naming the victims' resources; it should panic for a method it does not know,
/// so a new RPC cannot go unchecked.
pub async fn check_service<S, F, Fut>(
    channel: &tonic::transport::Channel,
    service: &str,
    auth: &tuan_runtime::config::AuthConfig,
    callers: &Callers,
    request: impl Fn(&str) -> Vec<u8>,
    snapshot: F,
) -> Checked
where
    S: PartialEq + std::fmt::Debug,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    use crate::rpc::{assert_refused_cleanly, bad_credentials, call_raw};
    let timeout = std::time::Duration::from_secs(20);
    let mut checked = Checked::default();
    let rules: Vec<&Rule> = rules_of(service).collect();
    let served = crate::rpc::Schema::tuan().service_methods(service).count();
    assert!(served > 0 && rules.len() == served, "{service}: {} rows for {served} RPCs", rules.len());
    for rule in &rules {
        checked.rpcs += 1;
        let rpc = rule.rpc;
        if rule.is_public() {
            continue;
        }
        for (what, credential) in bad_credentials(auth, callers.victim) {
            for body in [request(rule.method()), Vec::new()] {
                let kind = if body.is_empty() { "an empty request" } else { "the fixture's request" };
                assert_refused_cleanly(
                    &format!("{rpc} with {what} and {kind}"),
                    Code::Unauthenticated,
                    &snapshot,
                    call_raw(channel, rpc, &credential, body, timeout),
                )
                .await;
                checked.calls += 1;
            }
        }
    }
    for rule in &rules {
        let rpc = rule.rpc;
        let (who, refusal) = match rule.access {
            Access::Role(role) => (&callers.plain_user, format!("{role:?}")),
            Access::Party { resource, .. } => (&callers.intruder, resource.to_string()),
            _ => continue,
        };
        let expected = match rule.access {
            Access::Party { refusal, .. } => refusal,
            _ => Code::PermissionDenied,
        };
        assert_refused_cleanly(
            &format!("{rpc} by a caller outside {refusal}"),
            expected,
            &snapshot,
            call_raw(channel, rpc, who, request(rule.method()), timeout),
        )
        .await;
        checked.calls += 1;
    }
    // Last: signed-in calls may change things (the intruder's own).
    for rule in rules.iter().filter(|r| r.access == Access::SignedIn) {
        let result = call_raw(channel, rule.rpc, &callers.intruder, request(rule.method()), timeout).await;
        if let Err(status) = result {
            assert!(
                !matches!(
                    status.code(),
                    Code::Unauthenticated | Code::PermissionDenied | Code::Internal | Code::Unknown
                ),
                "{} is open to every signed-in user, yet answered {:?}: {}",
                rule.rpc,
                status.code(),
                status.message()
            );
        }
        checked.calls += 1;
    }
    checked
}

/// Proves the admin rows against a service serving `tuan.admin.v1.Admin` on `pool`: bad tokens
/// get `UNAUTHENTICATED`, a signed-in user without the operator role `PERMISSION_DENIED`, each
/// refusal appending no event and re-driving no dead letter; and an operator is let through
/// (the read-only RPCs answer).
pub async fn check_admin(
    channel: &tonic::transport::Channel,
    auth: &tuan_runtime::config::AuthConfig,
    pool: &sqlx::PgPool,
) -> Checked {
    use crate::rpc::{bearer, call_raw, token};
    let plain = bearer(&token(auth, uuid::Uuid::now_v7(), &[]));
    let callers = Callers { intruder: plain.clone(), plain_user: plain, victim: uuid::Uuid::now_v7() };
    let snapshot = || admin_snapshot(pool);
    let mut checked = check_service(channel, ADMIN, auth, &callers, admin_request, snapshot).await;
    let operator = bearer(&token(auth, uuid::Uuid::now_v7(), &[tuan_runtime::auth::ROLE_OPERATOR]));
    for method in ["GetBacklog", "ListDeadLetters", "ListStuckSagas", "ReadStream"] {
        let rpc = format!("{ADMIN}/{method}");
        let reply = call_raw(channel, &rpc, &operator, admin_request(method), std::time::Duration::from_secs(20)).await;
        assert!(reply.is_ok(), "{rpc} by an operator: {:?}", reply.err());
        checked.calls += 1;
    }
    checked
}

/// Events appended and dead letters re-driven: what an admin call could change.
async fn admin_snapshot(pool: &sqlx::PgPool) -> (i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM dead_letters WHERE redriven_at IS NOT NULL)",
    )
    .fetch_one(pool)
    .await
    .expect("admin snapshot")
}

/// A request the probes of every process answer: health asks about the whole server; reflection
/// lists the services (`ServerReflectionRequest { list_services: "" }`, field 7).
pub fn probe_request(rpc: &str) -> Vec<u8> {
    if rpc.contains("ServerReflection") { vec![0x3a, 0x00] } else { Vec::new() }
}

/// Every probe (health, reflection) of the process behind `channel` answers without a token.
pub async fn assert_probes_are_public(channel: &tonic::transport::Channel) {
    use crate::rpc::call_raw;
    for rule in MATRIX.iter().filter(|r| r.service().starts_with("grpc.")) {
        assert!(rule.is_public(), "{} should be public", rule.rpc);
        let reply =
            call_raw(channel, rule.rpc, &None, probe_request(rule.rpc), std::time::Duration::from_secs(10)).await;
        assert!(reply.is_ok(), "{} without a token: {:?}", rule.rpc, reply.err());
    }
}
