//! Partial results when payments hangs or is down, recovery when it is back, and the rate
//! limit.

use std::time::{Duration, Instant};

use futures::future::join_all;
use tonic::Code;
use tonic_types::StatusExt;
use tuan_proto::{gateway::v1 as gw, payments::v1 as pay, users::v1 as users};

use crate::{
    flows::{SETTLE, User, sign_up, top_up},
    harness::{Gateway, Options, Stack, authed, exclusive},
};

const DEADLINE: Duration = Duration::from_millis(1500);

/// Home with the client's deadline; answers how long it took.
async fn home_within(gw: &mut Gateway, user: &User) -> (gw::HomeScreen, Duration) {
    let mut request = authed(&user.token, gw::HomeRequest {});
    request.set_timeout(DEADLINE);
    let start = Instant::now();
    let screen = gw.home(request).await.expect("home answers despite payments").into_inner();
    (screen, start.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_answers_within_its_deadline_without_payments_and_recovers() {
    let _turn = exclusive().await;
    // The gateway's own budget per backend call, as in production: 800 ms.
    let options = Options { part_budget_ms: 800, ..Options::default() };
    let mut stack = Stack::start("payments_down", options).await;
    let mut gw = stack.gateway().await;
    let a = sign_up(&stack, &mut gw, "+8613900000011", "Alice").await;
    top_up(&mut gw, &a, "10.00").await;
    wait_complete_home(&mut gw, &a).await;

    // Hung: payments accepts connections and never answers.
    stack.freeze("payments");
    let (screen, took) = home_within(&mut gw, &a).await;
    assert!(took < DEADLINE, "home took {took:?}");
    assert!(screen.missing_parts.contains(&"wallet".to_string()), "{:?}", screen.missing_parts);
    assert!(screen.missing_parts.contains(&"collections".to_string()), "{:?}", screen.missing_parts);
    assert!(screen.balances.is_empty());

    // Down: the process is gone. Home keeps answering, and fast once the circuit is open.
    stack.thaw("payments");
    stack.stop("payments");
    for _ in 0..4 {
        let (screen, took) = home_within(&mut gw, &a).await;
        assert!(took < DEADLINE, "home took {took:?}");
        assert!(screen.missing_parts.contains(&"wallet".to_string()), "{:?}", screen.missing_parts);
    }
    let mut request = authed(&a.token, gw::WalletRequest::default());
    request.set_timeout(DEADLINE);
    let wallet = gw.wallet(request).await.expect("wallet screen answers").into_inner();
    assert_eq!(wallet.missing_parts, ["wallet", "statement", "group_balances"]);
    let top_up = pay::TopUpRequest { amount: "1.00".into(), currency: "CNY".into(), idempotency_key: "down".into() };
    let refused = gw.top_up(authed(&a.token, top_up)).await.expect_err("payments is down");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    let me = gw.get_me(authed(&a.token, users::GetMeRequest {})).await.expect("users is fine").into_inner();
    assert_eq!(me.user_id, a.id);

    // Back: after the circuit's cool-down the wallet part returns, with the same money.
    stack.restart("payments").await;
    wait_complete_home(&mut gw, &a).await;
}

/// Polls Home until every part is there, and checks the wallet part.
async fn wait_complete_home(gw: &mut Gateway, user: &User) {
    let start = Instant::now();
    loop {
        let (screen, _) = home_within(gw, user).await;
        if screen.missing_parts.is_empty() {
            assert_eq!(screen.balances[0].available, "10.00");
            return;
        }
        assert!(start.elapsed() < SETTLE, "home never complete: {:?}", screen.missing_parts);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_above_the_user_limit_is_refused_with_retry_info_then_served_again() {
    let _turn = exclusive().await;
    let stack = Stack::start("rate_limit", Options { user_rate: (5, 10), ..Options::default() }).await;
    let mut gw = stack.gateway().await;
    let a = sign_up(&stack, &mut gw, "+8613900000021", "Alice").await;
    let b = sign_up(&stack, &mut gw, "+8613900000022", "Bob").await;

    let burst = (0..40).map(|_| {
        let mut gw = gw.clone();
        let request = authed(&a.token, users::GetMeRequest {});
        async move { gw.get_me(request).await }
    });
    let results = join_all(burst).await;
    let served = results.iter().filter(|r| r.is_ok()).count();
    let refused: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!((1..=12).contains(&served), "about the burst is served, got {served}");
    assert_eq!(served + refused.len(), 40);
    assert!(refused.iter().all(|s| s.code() == Code::ResourceExhausted), "{refused:?}");
    let status = refused[0];
    let retry_after: u64 = status
        .metadata()
        .get("retry-after-ms")
        .expect("retry-after-ms")
        .to_str()
        .unwrap()
        .parse()
        .expect("milliseconds");
    assert!((1..=1000).contains(&retry_after), "retry after {retry_after} ms");
    let info = status.get_details_retry_info().expect("google.rpc.RetryInfo");
    assert!(info.retry_delay.is_some());

    // Another user is not affected, and A is served again after waiting as told.
    gw.get_me(authed(&b.token, users::GetMeRequest {})).await.expect("B has a budget of their own");
    tokio::time::sleep(Duration::from_millis(retry_after)).await;
    let me = gw.get_me(authed(&a.token, users::GetMeRequest {})).await.expect("served again").into_inner();
    assert_eq!(me.user_id, a.id);
}
