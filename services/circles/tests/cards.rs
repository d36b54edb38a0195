//! Live deal cards: posts, moments and inbox items show what the shared campaign, team, bill
//! or collection looks like now, from the group-buy and payments events (published here as
//! those services' relays would), and a repeated event changes nothing.

mod common;

use std::time::Duration;

use common::{Client, TestApp, User, authed, circle, envelope};
use tuan_proto::{
    circles::v1::{
        self as pb, CampaignCardStatus, CampaignCardView, CircleKind, CollectionCardStatus, TeamCardStatus,
        TeamCardView, card_view::View, deal_card::Target,
    },
    events::v1::EventEnvelope,
    groupbuy::v1 as gb,
    payments::v1 as pay,
};
use uuid::Uuid;

/// Polls `probe` until it yields something (30 s).
async fn eventually<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: not seen after 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The live view of the newest post of a circle.
async fn newest_post_live(client: &mut Client, reader: &User, circle_id: &str) -> Option<View> {
    let request = pb::ListPostsRequest { circle_id: circle_id.into(), page: None };
    let posts = client.list_posts(authed(&reader.token, request)).await.expect("list posts").into_inner().posts;
    posts.into_iter().next().expect("a post").live.and_then(|l| l.view)
}

async fn team_view(client: &mut Client, reader: &User, circle_id: &str) -> Option<TeamCardView> {
    match newest_post_live(client, reader, circle_id).await? {
        View::Team(t) => Some(t),
        other => panic!("a team card shows a team view, got {other:?}"),
    }
}

async fn campaign_view(client: &mut Client, reader: &User, circle_id: &str) -> Option<CampaignCardView> {
    match newest_post_live(client, reader, circle_id).await? {
        View::Campaign(c) => Some(c),
        other => panic!("a campaign card shows a campaign view, got {other:?}"),
    }
}

fn launched(campaign: Uuid, stock: u32) -> gb::CampaignLaunched {
    gb::CampaignLaunched {
        campaign_id: campaign.to_string(),
        merchant_id: Uuid::now_v7().to_string(),
        title: "Lychees, 5 kg".into(),
        list_price: "99.00".into(),
        group_price: "59.90".into(),
        currency: "CNY".into(),
        stock,
        mode: "team".into(),
        team_size: 3,
        ..Default::default()
    }
}

async fn post_card(app: &mut TestApp, author: &User, circle_id: &str, target: Target) -> pb::Post {
    let request = pb::CreatePostRequest {
        circle_id: circle_id.into(),
        text: "join us".into(),
        card: Some(pb::DealCard { target: Some(target) }),
    };
    app.client.create_post(authed(&author.token, request)).await.expect("create post").into_inner()
}

#[tokio::test]
async fn a_team_card_follows_its_team_until_completed_and_repeats_change_nothing() {
    let mut app = TestApp::spawn().await;
    let (owner, reader) = (app.user(), app.user());
    let c = app.create_circle(&owner, CircleKind::Cluster, false).await;
    app.client.join_circle(authed(&reader.token, circle(&c.circle_id))).await.unwrap();
    let (campaign, team) = (Uuid::now_v7(), Uuid::now_v7());
    let (leader, joiner_a, joiner_b) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());

    // Shared before group-buy has said anything about the team: a card, no live view.
    let post = post_card(&mut app, &owner, &c.circle_id, Target::TeamId(team.to_string())).await;
    assert!(post.live.is_none(), "no live view before the team's events arrive");
    let mut client = app.client.clone();
    assert!(team_view(&mut client, &reader, &c.circle_id).await.is_none());

    let gb_event = |stream: &str, id: Uuid, version: u64, e: gb::TeamMemberJoined| {
        envelope("groupbuy", stream, &id.to_string(), version, &e)
    };
    app.publish("groupbuy", &envelope("groupbuy", "campaign", &campaign.to_string(), 1, &launched(campaign, 50))).await;
    let opened = gb::TeamOpened {
        team_id: team.to_string(),
        campaign_id: campaign.to_string(),
        leader_id: leader.to_string(),
        join_id: Uuid::now_v7().to_string(),
        team_size: 3,
        expires_at_micros: 1_900_000_000_000_000,
    };
    app.publish("groupbuy", &envelope("groupbuy", "team", &team.to_string(), 1, &opened)).await;
    let seen = eventually("the opened team with its campaign's title", async || {
        team_view(&mut client, &reader, &c.circle_id).await.filter(|t| !t.campaign_title.is_empty())
    })
    .await;
    assert_eq!(
        (seen.members, seen.team_size, seen.status(), seen.campaign_title.as_str()),
        (1, 3, TeamCardStatus::Pending, "Lychees, 5 kg")
    );
    assert_eq!((seen.team_id.clone(), seen.campaign_id.clone()), (team.to_string(), campaign.to_string()));
    assert_eq!(seen.expires_at_micros, 1_900_000_000_000_000);

    // A joins; the relay delivers the event twice, and a replay brings it again under a new
    // event id. The leader's confirmation (next in the stream) marks all of them as applied.
    let joined = |user: Uuid| gb::TeamMemberJoined {
        team_id: team.to_string(),
        campaign_id: campaign.to_string(),
        join_id: Uuid::now_v7().to_string(),
        user_id: user.to_string(),
    };
    let a_joined = gb_event("team", team, 2, joined(joiner_a));
    app.publish("groupbuy", &a_joined).await;
    app.publish("groupbuy", &a_joined).await;
    app.publish("groupbuy", &EventEnvelope { event_id: Uuid::now_v7().to_string(), ..a_joined.clone() }).await;
    let confirmed = gb::TeamMemberConfirmed {
        team_id: team.to_string(),
        join_id: Uuid::now_v7().to_string(),
        user_id: leader.to_string(),
    };
    app.publish("groupbuy", &envelope("groupbuy", "team", &team.to_string(), 3, &confirmed)).await;
    let seen = eventually("the leader's confirmation", async || {
        team_view(&mut client, &reader, &c.circle_id).await.filter(|t| t.status() == TeamCardStatus::Open)
    })
    .await;
    assert_eq!(seen.members, 2, "A counts once however often the event comes");

    // B joins, the team completes.
    app.publish("groupbuy", &gb_event("team", team, 4, joined(joiner_b))).await;
    let completed = gb::TeamCompleted { team_id: team.to_string(), campaign_id: campaign.to_string() };
    let completed = envelope("groupbuy", "team", &team.to_string(), 5, &completed);
    app.publish("groupbuy", &completed).await;
    let seen = eventually("the completed team", async || {
        team_view(&mut client, &reader, &c.circle_id).await.filter(|t| t.status() == TeamCardStatus::Completed)
    })
    .await;
    assert_eq!(seen.members, 3);

    // A late repeat of the whole stream so far changes nothing (its row is past them).
    app.publish("groupbuy", &a_joined).await;
    app.publish("groupbuy", &EventEnvelope { event_id: Uuid::now_v7().to_string(), ..completed.clone() }).await;
    let expired = gb::TeamExpired { team_id: team.to_string(), campaign_id: campaign.to_string() };
    // Version 5 again (a stale copy under a new id): must not turn the completed team expired.
    app.publish("groupbuy", &envelope("groupbuy", "team", &team.to_string(), 5, &expired)).await;
    let marker = gb::TeamLeaderChanged {
        team_id: team.to_string(),
        previous_leader_id: leader.to_string(),
        leader_id: joiner_a.to_string(),
    };
    app.publish("groupbuy", &envelope("groupbuy", "team", &team.to_string(), 6, &marker)).await;
    app.wait_for(
        "leader change",
        "SELECT count(*) FROM public.card_teams WHERE team_id = $1 AND leader_id = $2",
        team,
        joiner_a,
        1,
    )
    .await;
    let seen = team_view(&mut client, &reader, &c.circle_id).await.expect("live view");
    assert_eq!((seen.members, seen.status()), (3, TeamCardStatus::Completed));

    // A card shared now carries its live view in the CreatePost reply too.
    let post = post_card(&mut app, &owner, &c.circle_id, Target::TeamId(team.to_string())).await;
    match post.live.and_then(|l| l.view) {
        Some(View::Team(t)) => assert_eq!((t.members, t.status()), (3, TeamCardStatus::Completed)),
        other => panic!("expected a live team view, got {other:?}"),
    }
    app.stop().await;
}

#[tokio::test]
async fn a_campaign_card_shows_stock_left_and_status_and_counts_joins_before_its_launch() {
    let mut app = TestApp::spawn().await;
    let owner = app.user();
    let c = app.create_circle(&owner, CircleKind::Cluster, false).await;
    let campaign = Uuid::now_v7();
    post_card(&mut app, &owner, &c.circle_id, Target::CampaignId(campaign.to_string())).await;
    let mut client = app.client.clone();
    let join = |join_id: Uuid| gb::JoinRequested {
        join_id: join_id.to_string(),
        campaign_id: campaign.to_string(),
        user_id: Uuid::now_v7().to_string(),
        amount: "59.90".into(),
        currency: "CNY".into(),
        ..Default::default()
    };
    let (j1, j2) = (Uuid::now_v7(), Uuid::now_v7());

    // A join arrives before the launch (another partition): counted, but nothing shown yet.
    app.publish("groupbuy", &envelope("groupbuy", "join", &j1.to_string(), 1, &join(j1))).await;
    app.wait_for(
        "join",
        "SELECT count(*) FROM public.card_joins WHERE join_id = $1 AND campaign_id = $2",
        j1,
        campaign,
        1,
    )
    .await;
    assert!(campaign_view(&mut client, &owner, &c.circle_id).await.is_none(), "not launched here yet");

    app.publish("groupbuy", &envelope("groupbuy", "campaign", &campaign.to_string(), 1, &launched(campaign, 10))).await;
    let seen =
        eventually("the launched campaign", async || campaign_view(&mut client, &owner, &c.circle_id).await).await;
    assert_eq!(
        (seen.title.as_str(), seen.group_price.as_str(), seen.list_price.as_str(), seen.currency.as_str()),
        ("Lychees, 5 kg", "59.90", "99.00", "CNY")
    );
    assert_eq!((seen.stock_left, seen.status()), (9, CampaignCardStatus::Active));

    // A second join (delivered twice), and the first one's unit comes back (twice too).
    let j2_requested = envelope("groupbuy", "join", &j2.to_string(), 1, &join(j2));
    app.publish("groupbuy", &j2_requested).await;
    app.publish("groupbuy", &EventEnvelope { event_id: Uuid::now_v7().to_string(), ..j2_requested }).await;
    let returned = gb::JoinStockReturned {
        join_id: j1.to_string(),
        campaign_id: campaign.to_string(),
        user_id: Uuid::now_v7().to_string(),
        bucket: 0,
    };
    let returned = envelope("groupbuy", "join", &j1.to_string(), 3, &returned);
    app.publish("groupbuy", &returned).await;
    app.publish("groupbuy", &EventEnvelope { event_id: Uuid::now_v7().to_string(), ..returned }).await;
    let paused = gb::CampaignPaused { campaign_id: campaign.to_string(), by_user_id: Uuid::now_v7().to_string() };
    app.publish("groupbuy", &envelope("groupbuy", "campaign", &campaign.to_string(), 2, &paused)).await;
    // The two join streams may be on different partitions from the campaign's: wait for both.
    app.wait_for(
        "returned unit",
        "SELECT count(*) FROM public.card_joins WHERE (join_id = $1 AND returned) OR join_id = $2",
        j1,
        j2,
        2,
    )
    .await;
    let seen = eventually("the paused campaign", async || {
        campaign_view(&mut client, &owner, &c.circle_id).await.filter(|v| v.status() == CampaignCardStatus::Paused)
    })
    .await;
    assert_eq!(seen.stock_left, 9, "10 in stock, j2 holds one, j1's came back; repeats count once");
    app.stop().await;
}

#[tokio::test]
async fn bill_and_collection_cards_in_moments_and_broadcasts_show_totals_and_payments() {
    let mut app = TestApp::spawn().await;
    let (author, merchant, operator) = (app.user(), app.user(), app.operator());
    let (bill, collection, campaign) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let (p1, p2) = (Uuid::now_v7(), Uuid::now_v7());
    let share = |user: Uuid, amount: &str| pay::BillShare { user_id: user.to_string(), amount: amount.into() };

    let recorded = pay::BillRecorded {
        bill_id: bill.to_string(),
        creator_id: author.id.to_string(),
        title: "Hotpot".into(),
        total: "300.00".into(),
        currency: "CNY".into(),
        split_method: "equal".into(),
        payers: vec![share(author.id, "300.00")],
        parts: vec![share(author.id, "100.00"), share(p1, "100.00"), share(p2, "100.00")],
        ..Default::default()
    };
    app.publish("payments", &envelope("payments", "aa_bill", &bill.to_string(), 1, &recorded)).await;
    let opened = pay::CollectionOpened {
        collection_id: collection.to_string(),
        bill_id: bill.to_string(),
        organiser_id: author.id.to_string(),
        currency: "CNY".into(),
        requested: vec![share(p1, "100.00"), share(p2, "100.00")],
        circle_id: String::new(),
    };
    let paid = pay::CollectionPaid {
        collection_id: collection.to_string(),
        participant_id: p1.to_string(),
        amount: "100.00".into(),
        currency: "CNY".into(),
        entry_id: Uuid::now_v7().to_string(),
    };
    let paid = envelope("payments", "collection", &collection.to_string(), 2, &paid);
    let closed = pay::CollectionClosed {
        collection_id: collection.to_string(),
        closed_by: author.id.to_string(),
        unpaid_user_ids: vec![p2.to_string()],
    };
    let stream = collection.to_string();
    app.publish("payments", &envelope("payments", "collection", &stream, 1, &opened)).await;
    app.publish("payments", &paid).await;
    app.publish("payments", &paid).await;
    app.publish("payments", &envelope("payments", "collection", &stream, 3, &closed)).await;
    app.wait_for(
        "closed collection",
        "SELECT count(*) FROM public.card_collections WHERE collection_id = $1 AND status = 'closed' \
         AND EXISTS (SELECT 1 FROM public.card_bills WHERE bill_id = $2)",
        collection,
        bill,
        1,
    )
    .await;

    // Moments: the author's own timeline shows both cards live.
    for target in [Target::BillId(bill.to_string()), Target::CollectionId(collection.to_string())] {
        let request = pb::PostMomentRequest { text: String::new(), card: Some(pb::DealCard { target: Some(target) }) };
        app.client.post_moment(authed(&author.token, request)).await.expect("post moment");
    }
    let mut client = app.client.clone();
    let moments = eventually("both moments on the timeline", async || {
        let request = pb::GetTimelineRequest { page: None };
        let got = client.get_timeline(authed(&author.token, request)).await.unwrap().into_inner().moments;
        (got.len() == 2).then_some(got)
    })
    .await;
    match moments[0].live.as_ref().and_then(|l| l.view.clone()) {
        Some(View::Collection(k)) => {
            assert_eq!((k.paid_count, k.participant_count, k.status()), (1, 2, CollectionCardStatus::Closed));
            assert_eq!((k.bill_id.as_str(), k.currency.as_str()), (bill.to_string().as_str(), "CNY"));
        }
        other => panic!("expected a collection view, got {other:?}"),
    }
    match moments[1].live.as_ref().and_then(|l| l.view.clone()) {
        Some(View::Bill(b)) => assert_eq!(
            (b.title.as_str(), b.total.as_str(), b.currency.as_str(), b.participants),
            ("Hotpot", "300.00", "CNY", 3)
        ),
        other => panic!("expected a bill view, got {other:?}"),
    }
    assert!(moments[0].live.as_ref().is_some_and(|l| l.updated_at_micros > 0));

    // Broadcasts: a follower's inbox shows a campaign card live; a card nobody announced has
    // no live view.
    app.verify_merchant(&merchant, &operator).await;
    let account = app
        .client
        .open_public_account(authed(
            &merchant.token,
            pb::OpenPublicAccountRequest { name: "Orchard".into(), description: String::new() },
        ))
        .await
        .unwrap()
        .into_inner();
    app.client
        .follow_account(authed(&author.token, pb::AccountTarget { account_id: account.account_id.clone() }))
        .await
        .unwrap();
    app.publish("groupbuy", &envelope("groupbuy", "campaign", &campaign.to_string(), 1, &launched(campaign, 7))).await;
    for target in [Target::CampaignId(Uuid::now_v7().to_string()), Target::CampaignId(campaign.to_string())] {
        let request = pb::BroadcastRequest {
            account_id: account.account_id.clone(),
            text: "fresh today".into(),
            card: Some(pb::DealCard { target: Some(target) }),
        };
        app.client.broadcast(authed(&merchant.token, request)).await.unwrap();
    }
    let items = eventually("the live campaign in the inbox", async || {
        let request = pb::ListInboxRequest { page: None };
        let got = client.list_inbox(authed(&author.token, request)).await.unwrap().into_inner().items;
        (got.len() == 2 && got[0].live.is_some()).then_some(got)
    })
    .await;
    match items[0].live.as_ref().and_then(|l| l.view.clone()) {
        Some(View::Campaign(v)) => assert_eq!((v.stock_left, v.status()), (7, CampaignCardStatus::Active)),
        other => panic!("expected a campaign view, got {other:?}"),
    }
    assert!(items[1].live.is_none(), "an unknown campaign has no live view");
    app.stop().await;
}
