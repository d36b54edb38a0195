//! Another user's token cannot read or change someone else's wallet, team membership or
//! circle; a forged or missing token never gets past the gateway.

use std::time::Duration;

use chrono::Utc;
use tonic::Code;
use tuan_proto::{
    circles::v1 as circles,
    gateway::v1 as gw,
    groupbuy::v1::{self as gb, TeamStatus},
    payments::v1 as pay,
    users::v1 as users,
};
use tuan_runtime::{
    auth::{Caller, TokenKeys},
    config::AuthConfig,
};

use crate::{
    flows::{POLL, SETTLE, befriend, merchant_with_campaign, once_projected, sign_up, top_up, wallet},
    harness::{Options, Stack, authed, exclusive},
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stranger_cannot_touch_anothers_wallet_team_or_circle() {
    let _turn = exclusive().await;
    let stack = Stack::start("isolation", Options::default()).await;
    let mut gw = stack.gateway().await;
    let (_merchant, campaign) = merchant_with_campaign(&stack, &mut gw, "+8613900000031").await;
    let a = sign_up(&stack, &mut gw, "+8613900000032", "Alice").await;
    let b = sign_up(&stack, &mut gw, "+8613900000033", "Bob").await;
    let mallory = sign_up(&stack, &mut gw, "+8613900000034", "Mallory").await;
    befriend(&mut gw, &a, &b).await;
    top_up(&mut gw, &a, "100.00").await;

    // Tokens: none, forged (another key), or malformed are refused by the gateway itself.
    let no_token = gw.wallet(gw::WalletRequest::default()).await.expect_err("no token");
    assert_eq!(no_token.code(), Code::Unauthenticated);
    let forged_keys =
        TokenKeys::new(&AuthConfig { jwt_secret: "not-the-real-secret".to_string().into(), issuer: "tuan".into() });
    let (forged, _) = forged_keys
        .issue(
            &Caller { user_id: a.id.parse().unwrap(), session_id: uuid::Uuid::now_v7(), roles: vec![] },
            Utc::now(),
            chrono::Duration::minutes(5),
        )
        .unwrap();
    let refused = gw.wallet(authed(&forged, gw::WalletRequest::default())).await.expect_err("forged token");
    assert_eq!(refused.code(), Code::Unauthenticated);
    let refused = gw.get_me(authed("garbage", users::GetMeRequest {})).await.expect_err("malformed token");
    assert_eq!(refused.code(), Code::Unauthenticated);

    // Wallet: Mallory's screen is Mallory's; she cannot move A's money.
    let screen = wallet(&mut gw, &mallory).await;
    assert!(screen.balances.iter().all(|b| b.available.parse::<f64>().unwrap_or(0.0) == 0.0), "{screen:?}");
    let steal = pay::TransferRequest {
        to_user_id: mallory.id.clone(),
        amount: "10.00".into(),
        currency: "CNY".into(),
        memo: "mine now".into(),
        idempotency_key: "steal".into(),
    };
    let refused = gw.transfer(authed(&mallory.token, steal)).await.expect_err("a transfer to herself");
    assert_ne!(refused.code(), Code::Ok);

    // Team: A's team; Mallory cannot take A out of it.
    let opened = gw
        .open_team(authed(
            &a.token,
            gb::OpenTeamRequest {
                campaign_id: campaign.campaign_id.clone(),
                idempotency_key: uuid::Uuid::now_v7().to_string(),
            },
        ))
        .await
        .expect("open team")
        .into_inner();
    let team_id = opened.team.unwrap().team_id;
    let refused = gw
        .leave_team(authed(&mallory.token, gb::LeaveTeamRequest { team_id: team_id.clone() }))
        .await
        .expect_err("leaving a team she is not in");
    assert!(
        matches!(refused.code(), Code::FailedPrecondition | Code::NotFound | Code::PermissionDenied),
        "{refused:?}"
    );
    let start = std::time::Instant::now();
    let team = loop {
        let team = gw.get_team(authed(&a.token, gb::TeamRef { team_id: team_id.clone() })).await.unwrap().into_inner();
        if team.status() == TeamStatus::Open {
            break team;
        }
        assert!(start.elapsed() < SETTLE, "team never opened: {team:?}");
        tokio::time::sleep(POLL).await;
    };
    assert_eq!(team.members.iter().map(|m| m.user_id.as_str()).collect::<Vec<_>>(), [a.id.as_str()]);

    // Circle: A's closed group with B; Mallory can neither read nor join nor post in it.
    let circle = gw
        .create_circle(authed(
            &a.token,
            circles::CreateCircleRequest {
                name: "Family".into(),
                kind: circles::CircleKind::Group as i32,
                topic: String::new(),
                approval_required: true,
            },
        ))
        .await
        .expect("create circle")
        .into_inner();
    let target = circles::CircleTarget { circle_id: circle.circle_id.clone() };
    let denied = [Code::PermissionDenied, Code::NotFound, Code::FailedPrecondition];
    let posts = gw
        .list_posts(authed(
            &mallory.token,
            circles::ListPostsRequest { circle_id: circle.circle_id.clone(), page: None },
        ))
        .await
        .expect_err("reading posts");
    assert!(denied.contains(&posts.code()), "{posts:?}");
    let join = gw.join_circle(authed(&mallory.token, target.clone())).await.expect_err("joining a closed group");
    assert!(denied.contains(&join.code()), "{join:?}");
    let post = circles::CreatePostRequest { circle_id: circle.circle_id.clone(), text: "spam".into(), card: None };
    let post = gw.create_post(authed(&mallory.token, post)).await.expect_err("posting");
    assert!(denied.contains(&post.code()), "{post:?}");
    let invite = circles::MemberTarget { circle_id: circle.circle_id.clone(), user_id: mallory.id.clone() };
    let invite = gw.invite_member(authed(&mallory.token, invite)).await.expect_err("inviting herself");
    assert!(denied.contains(&invite.code()), "{invite:?}");

    // A collection of A's with B: Mallory can neither read nor pay it.
    let bill = pay::CreateBillRequest {
        title: "Lunch".into(),
        total: "30.00".into(),
        currency: "CNY".into(),
        split_method: pay::SplitMethod::Equal as i32,
        payers: vec![],
        participants: [&a, &b]
            .iter()
            .map(|u| pay::Participant { user_id: u.id.clone(), value: String::new() })
            .collect(),
        circle_id: String::new(),
        idempotency_key: "lunch".into(),
    };
    let bill = once_projected("create bill", || {
        let mut gw = gw.clone();
        let request = authed(&a.token, bill.clone());
        async move { gw.create_bill(request).await.map(|r| r.into_inner()) }
    })
    .await;
    let collection = gw
        .open_collection(authed(&a.token, pay::OpenCollectionRequest { bill_id: bill.bill_id }))
        .await
        .unwrap()
        .into_inner();
    let read = pay::GetCollectionRequest { collection_id: collection.collection_id.clone() };
    let read = gw.get_collection(authed(&mallory.token, read)).await.expect_err("reading A's collection");
    assert!(denied.contains(&read.code()), "{read:?}");
    let pay_it =
        pay::PayCollectionRequest { collection_id: collection.collection_id.clone(), idempotency_key: "m".into() };
    let pay_it = gw.pay_collection(authed(&mallory.token, pay_it)).await.expect_err("paying A's collection");
    assert!(denied.contains(&pay_it.code()), "{pay_it:?}");

    // Nothing moved: A still has 100.00 less the team hold, Mallory nothing.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let screen = wallet(&mut gw, &a).await;
    let cny = screen.balances.iter().find(|b| b.currency == "CNY").unwrap();
    assert_eq!((cny.available.as_str(), cny.held.as_str()), ("50.00", "50.00"));
}
