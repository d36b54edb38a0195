//! `make run`'s demo data: a newcomer logging in as Alice sees every part of Home working on
//! the first screen (her circle with a deal card, a friend's open team, the open AA
//! collection, her balance) and a friend's moment in her timeline; the seed can run twice.

use std::time::Instant;

use tuan_proto::{circles::v1 as circles, common::v1::PageRequest, gateway::v1 as gw, users::v1 as users};

use crate::{
    flows::{POLL, SETTLE},
    harness::{Options, Stack, authed, exclusive},
};

const DEMO_PASSWORD: &str = "tuan-demo-2026";
const ALICE: &str = "+8613800000002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_seed_fills_every_part_of_alices_home() {
    let _turn = exclusive().await;
    let mut stack = Stack::start("demo_seed", Options { no_operator: true, ..Options::default() }).await;
    stack.seed().await;
    let mut gw = stack.gateway().await;
    let login = users::LoginRequest { phone: ALICE.into(), password: DEMO_PASSWORD.into() };
    let token = gw.login(login).await.expect("Alice logs in").into_inner().access_token;

    let start = Instant::now();
    let home = loop {
        let home = gw.home(authed(&token, gw::HomeRequest {})).await.expect("home").into_inner();
        let full = !home.circles.is_empty()
            && home.shared_deals.iter().any(|d| d.team.is_some())
            && !home.friend_teams.is_empty()
            && !home.collections.is_empty()
            && !home.balances.is_empty();
        if full {
            break home;
        }
        assert!(start.elapsed() < SETTLE, "Alice's Home is missing parts: {home:#?}");
        tokio::time::sleep(POLL).await;
    };
    assert!(home.missing_parts.is_empty(), "{:?}", home.missing_parts);
    assert_eq!(home.circles[0].name, "Dinner friends");
    let team = home.friend_teams[0].team.as_ref().expect("team");
    assert_eq!(team.members.len(), 2, "Bob's team with Carol in it: a few joins old");
    assert!(home.collections[0].i_am_organiser, "Alice collects the dinner from Bob and Carol");

    // Bob's moment reaches his friends' timelines through the fan-out (a Kafka hop).
    let start = Instant::now();
    loop {
        let page = Some(PageRequest { limit: 10, cursor: String::new() });
        let timeline = gw.get_timeline(authed(&token, circles::GetTimelineRequest { page })).await.expect("timeline");
        if timeline.get_ref().moments.iter().any(|m| m.text.contains("mangoes")) {
            break;
        }
        assert!(start.elapsed() < SETTLE, "Bob's moment never reached Alice: {:#?}", timeline.into_inner());
        tokio::time::sleep(POLL).await;
    }

    // Seeding again changes nothing a user sees twice: one team, one collection.
    stack.seed().await;
    let again = gw.home(authed(&token, gw::HomeRequest {})).await.expect("home").into_inner();
    assert_eq!((again.friend_teams.len(), again.collections.len()), (home.friend_teams.len(), home.collections.len()));
}
