//! A burst of logins is bounded by the hashing permits and answered RESOURCE_EXHAUSTED past
//! them, and the service's memory does not grow with bursts. Alone in its test binary, so the
//! RSS it reads is this service's.

mod common;

use std::time::Instant;

use common::{TestApp, authed, phone};
use tonic::Code;
use tuan_proto::users::v1 as pb;

const PASSWORD: &str = "correct-horse-42";

/// VmRSS of this process (the service runs in it), in MiB.
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bursts_of_400_logins_are_bounded_and_the_service_keeps_answering() {
    let mut app = TestApp::spawn_tuned(|c| {
        c.users.password_hash_concurrency = 2;
        c.users.password_hash_wait_ms = 200;
    })
    .await;
    let phones: Vec<String> = (0..8).map(|_| phone()).collect();
    for (i, phone) in phones.iter().enumerate() {
        app.sign_up(phone, &format!("User {i}")).await;
    }
    let burst = || {
        let logins = (0..400).map(|i| {
            let mut client = app.client.clone();
            let phone = phones[i % phones.len()].clone();
            tokio::spawn(async move {
                let login = pb::LoginRequest { phone, password: PASSWORD.into() };
                client.login(login).await.map(|_| ()).map_err(|s| s.code())
            })
        });
        futures::future::join_all(logins)
    };
    let mut rss = vec![rss_mib()];
    for round in 0..3 {
        let started = Instant::now();
        let results = burst().await;
        rss.push(rss_mib());
        let ok = results.iter().filter(|r| matches!(r, Ok(Ok(())))).count();
        let busy = results.iter().filter(|r| matches!(r, Ok(Err(Code::ResourceExhausted)))).count();
        println!(
            "burst {round}: 400 concurrent logins in {:?}: {ok} ok, {busy} RESOURCE_EXHAUSTED; RSS {} MiB -> {} MiB",
            started.elapsed(),
            rss[round],
            rss[round + 1]
        );
        assert_eq!(ok + busy, 400, "nothing but success or RESOURCE_EXHAUSTED: {results:?}");
        assert!(ok > 0 && busy > 0, "some got through, the rest were turned away: {ok} ok, {busy} busy");
    }
    // Two hashes at a time in two reused 19 MiB blocks: the memory the first burst takes is
    // all it ever takes (400 at once would want ~7.6 GiB; unpooled, the allocator kept ~200
    // MiB more after each of the first bursts).
    assert!(rss[1] < rss[0] + 100, "RSS {rss:?} MiB");
    assert!(rss[3] < rss[1] + 20, "RSS grew burst after burst: {rss:?} MiB");
    // And it still answers at once.
    let tokens = app.login(&phones[0], PASSWORD).await.expect("a login after the burst");
    app.client.get_me(authed(&tokens.access_token, pb::GetMeRequest {})).await.unwrap();
    app.stop().await;
}
