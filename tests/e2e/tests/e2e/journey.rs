//! The journey: a merchant is verified and launches a team campaign; A opens a team and shares
//! it into a circle; friend B finds it on Home, sees on CampaignDetail that A joined, joins;
//! the team completes, A and B are charged and the merchant is paid; then A and B split a
//! dinner AA with C and B pays the collection. Every balance is exact.

use std::time::Instant;

use tuan_proto::{
    circles::v1::{self as circles, deal_card::Target},
    gateway::v1 as gw,
    groupbuy::v1::{self as gb, TeamStatus},
    payments::v1 as pay,
};

use crate::{
    flows::{
        POLL, SETTLE, User, befriend, merchant_with_campaign, once_projected, sign_up, top_up, wait_balance, wait_team,
        wallet,
    },
    harness::{Options, Stack, authed, exclusive},
};

async fn home(gateway: &mut crate::harness::Gateway, user: &User) -> gw::HomeScreen {
    gateway.home(authed(&user.token, gw::HomeRequest {})).await.expect("home").into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merchant_team_deal_through_a_circle_then_an_aa_dinner_with_exact_balances() {
    let _turn = exclusive().await;
    let stack = Stack::start("journey", Options::default()).await;
    let mut gw = stack.gateway().await;

    // A verified merchant with a campaign: teams of two at 50.00 CNY.
    let (merchant, campaign) = merchant_with_campaign(&stack, &mut gw, "+8613900000001").await;

    // A, B and C; A is friends with both. A and B top up.
    let a = sign_up(&stack, &mut gw, "+8613900000002", "Alice").await;
    let b = sign_up(&stack, &mut gw, "+8613900000003", "Bob").await;
    let c = sign_up(&stack, &mut gw, "+8613900000004", "Carol").await;
    befriend(&mut gw, &a, &b).await;
    befriend(&mut gw, &a, &c).await;
    top_up(&mut gw, &a, "200.00").await;
    top_up(&mut gw, &b, "200.00").await;

    // A's circle with B in it (a cluster: a friend becomes a member at once).
    let circle = gw
        .create_circle(authed(
            &a.token,
            circles::CreateCircleRequest {
                name: "Fruit lovers".into(),
                kind: circles::CircleKind::Cluster as i32,
                topic: "good fruit, cheap".into(),
                approval_required: false,
            },
        ))
        .await
        .expect("create circle")
        .into_inner();
    let membership = once_projected("invite B", || {
        let mut gw = gw.clone();
        let request =
            authed(&a.token, circles::MemberTarget { circle_id: circle.circle_id.clone(), user_id: b.id.clone() });
        async move { gw.invite_member(request).await.map(|r| r.into_inner()) }
    })
    .await;
    assert_eq!(membership.state(), circles::MembershipState::Member);

    // A opens a team; it is shareable once A's hold is placed.
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
    let team_id = opened.team.expect("team").team_id;
    wait_team(&mut gw, &a, &team_id, TeamStatus::Open).await;
    gw.create_post(authed(
        &a.token,
        circles::CreatePostRequest {
            circle_id: circle.circle_id.clone(),
            text: "Join my team, apples at 50!".into(),
            card: Some(circles::DealCard { target: Some(Target::TeamId(team_id.clone())) }),
        },
    ))
    .await
    .expect("share the team");

    // B's Home shows the deal in the circle and A's team among friends' teams.
    let start = Instant::now();
    let screen = loop {
        let screen = home(&mut gw, &b).await;
        let shared = screen.shared_deals.iter().any(|d| d.team.as_ref().is_some_and(|t| t.team_id == team_id));
        let friends_team = screen.friend_teams.iter().any(|t| t.team.as_ref().is_some_and(|t| t.team_id == team_id));
        if shared && friends_team {
            break screen;
        }
        assert!(start.elapsed() < SETTLE, "B's home never showed A's team: {screen:#?}");
        tokio::time::sleep(POLL).await;
    };
    assert!(screen.missing_parts.is_empty(), "{:?}", screen.missing_parts);
    assert_eq!(screen.circles.len(), 1);
    let deal = screen.shared_deals.iter().find(|d| d.team.is_some()).unwrap();
    assert_eq!(deal.circle_name, "Fruit lovers");
    assert_eq!(deal.campaign.as_ref().map(|c| c.campaign_id.as_str()), Some(campaign.campaign_id.as_str()));
    let friend_team = screen.friend_teams.iter().find(|t| t.team.as_ref().unwrap().team_id == team_id).unwrap();
    assert_eq!(friend_team.friends.iter().map(|p| p.user_id.as_str()).collect::<Vec<_>>(), [a.id.as_str()]);
    assert_eq!(screen.balances.iter().find(|b| b.currency == "CNY").map(|b| b.available.as_str()), Some("200.00"));

    // CampaignDetail tells B that A joined that team.
    let detail = gw
        .campaign_detail(authed(&b.token, gw::CampaignDetailRequest { campaign_id: campaign.campaign_id.clone() }))
        .await
        .expect("campaign detail")
        .into_inner();
    assert!(detail.missing_parts.is_empty(), "{:?}", detail.missing_parts);
    assert_eq!(detail.campaign.as_ref().unwrap().group_price, "50.00");
    let view = detail.open_teams.iter().find(|t| t.team.as_ref().unwrap().team_id == team_id).expect("A's team");
    assert_eq!(view.friends_joined.iter().map(|p| p.user_id.as_str()).collect::<Vec<_>>(), [a.id.as_str()]);
    assert!(!view.i_joined);

    // B joins from a flaky network: the same join sent ten times at once with one key is one
    // join, one hold and one charge. The team completes; both are charged once and the
    // merchant is paid (less 1 %).
    let join = gb::JoinTeamRequest { team_id: team_id.clone(), idempotency_key: uuid::Uuid::now_v7().to_string() };
    let answers = futures::future::join_all((0..10).map(|_| {
        let (mut gw, request) = (gw.clone(), authed(&b.token, join.clone()));
        async move { gw.join_team(request).await.map(|r| r.into_inner().join.expect("join").join_id) }
    }))
    .await;
    let joins: Vec<String> = answers.into_iter().map(|a| a.expect("join")).collect();
    assert!(joins.iter().all(|j| *j == joins[0]), "one join for one key: {joins:?}");
    let done = wait_team(&mut gw, &b, &team_id, TeamStatus::Completed).await;
    assert_eq!(done.confirmed, 2);
    wait_balance(&mut gw, &a, "150.00").await;
    wait_balance(&mut gw, &b, "150.00").await;
    let start = Instant::now();
    loop {
        let stats = gw
            .get_campaign_stats(authed(&merchant.token, gb::CampaignRef { campaign_id: campaign.campaign_id.clone() }))
            .await
            .expect("stats")
            .into_inner();
        if stats.units_sold == 2 {
            assert_eq!((stats.teams_completed, stats.buyers, stats.revenue.as_str()), (1, 2, "100.00"));
            break;
        }
        assert!(start.elapsed() < SETTLE, "the sale never settled: {stats:?}");
        tokio::time::sleep(POLL).await;
    }
    for user in [&a, &b] {
        let screen = wallet(&mut gw, user).await;
        assert!(screen.open_holds.is_empty(), "holds are captured: {:?}", screen.open_holds);
        let spent: Vec<&str> = screen.recent_statement.iter().map(|l| l.amount.as_str()).collect();
        assert!(spent.contains(&"-50.00"), "the purchase is on the statement: {spent:?}");
    }
    // No RPC shows a merchant's payable balance: read the ledger's projection directly.
    assert_eq!(ledger(&stack, &format!("merchant-payable:{}", merchant.id)).await, "99.00");

    // Dinner, AA: A paid 100.00 for A, B and C.
    let bill_request = pay::CreateBillRequest {
        title: "Hotpot dinner".into(),
        total: "100.00".into(),
        currency: "CNY".into(),
        split_method: pay::SplitMethod::Equal as i32,
        payers: vec![],
        participants: [&a, &b, &c]
            .iter()
            .map(|u| pay::Participant { user_id: u.id.clone(), value: String::new() })
            .collect(),
        circle_id: String::new(),
        idempotency_key: "dinner-1".into(),
    };
    let bill = once_projected("create bill", || {
        let mut gw = gw.clone();
        let request = authed(&a.token, bill_request.clone());
        async move { gw.create_bill(request).await.map(|r| r.into_inner()) }
    })
    .await;
    let parts: Vec<(&str, &str)> = bill.parts.iter().map(|p| (p.user_id.as_str(), p.amount.as_str())).collect();
    assert_eq!(parts, [(a.id.as_str(), "33.34"), (b.id.as_str(), "33.33"), (c.id.as_str(), "33.33")]);
    let collection = gw
        .open_collection(authed(&a.token, pay::OpenCollectionRequest { bill_id: bill.bill_id.clone() }))
        .await
        .expect("open collection")
        .into_inner();

    // B's Home shows the open collection and what B owes; B pays.
    let screen = home(&mut gw, &b).await;
    assert!(screen.missing_parts.is_empty(), "{:?}", screen.missing_parts);
    let open =
        screen.collections.iter().find(|c| c.collection.as_ref().unwrap().collection_id == collection.collection_id);
    let open = open.expect("the dinner collection on B's home");
    assert_eq!((open.bill_title.as_str(), open.i_owe.as_str(), open.i_am_organiser), ("Hotpot dinner", "33.33", false));
    assert_eq!(screen.i_owe, vec![gw::Amount { amount: "33.33".into(), currency: "CNY".into() }]);
    let receipt = gw
        .pay_collection(authed(
            &b.token,
            pay::PayCollectionRequest {
                collection_id: collection.collection_id.clone(),
                idempotency_key: "dinner-b".into(),
            },
        ))
        .await
        .expect("pay collection")
        .into_inner();
    assert_eq!(receipt.amount, "33.33");

    // Exact balances everywhere.
    wait_balance(&mut gw, &a, "183.33").await;
    wait_balance(&mut gw, &b, "116.67").await;
    assert_eq!(ledger(&stack, &format!("merchant-payable:{}", merchant.id)).await, "99.00");
    let screen = home(&mut gw, &b).await;
    assert!(screen.i_owe.is_empty(), "B owes nothing now: {:?}", screen.i_owe);
    let carol = wallet(&mut gw, &c).await;
    assert!(carol.balances.iter().all(|b| b.available.parse::<f64>().unwrap_or(0.0) == 0.0));
    let alice = home(&mut gw, &a).await;
    let mine = alice.collections.iter().find(|c| c.i_am_organiser).expect("A organises the collection");
    let entries = &mine.collection.as_ref().unwrap().entries;
    assert!(
        entries.iter().any(|e| e.user_id == b.id && e.paid) && entries.iter().any(|e| e.user_id == c.id && !e.paid)
    );
}

/// A ledger account's balance in the payments service's read model.
async fn ledger(stack: &Stack, account: &str) -> String {
    sqlx::query_scalar::<_, String>(
        "SELECT COALESCE(sum(balance), 0)::text FROM proj.account_balances WHERE account = $1",
    )
    .bind(account)
    .fetch_one(&stack.db("payments").pool)
    .await
    .expect("ledger balance")
}
