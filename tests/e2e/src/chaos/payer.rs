//! The payers of the chaos workload's top-ups, with WeChat Pay: each order payments makes at
//! the local WeChat Pay is paid in the "WeChat app" soon after (most of them; one in twenty
//! never is, and payments closes it unpaid once past its lifetime, failing the top-up), and
//! WeChat Pay notifies payments, delivering again while payments is down or restarting. Each
//! payout (transfer bill) reaches the user's WeChat balance, one in twenty fails.

use std::{collections::HashSet, time::Duration};

use payments::wechat::local::LocalWeChatPay;
use rand::{Rng, SeedableRng, rngs::StdRng};

/// How long WeChat Pay keeps delivering a notification payments does not acknowledge.
const DELIVERY_PATIENCE: Duration = Duration::from_secs(600);

/// The payers at work; they stop when this is dropped.
pub struct Payers(tokio::task::JoinHandle<()>);

impl Payers {
    pub fn start(server: LocalWeChatPay, seed: u64) -> Self {
        Self(tokio::spawn(pay_orders(server, seed)))
    }
}

impl Drop for Payers {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Pays orders as they appear, until aborted.
async fn pay_orders(server: LocalWeChatPay, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut decided = HashSet::new();
    loop {
        for (no, order) in server.orders() {
            if order.state == "NOTPAY" && decided.insert(no.clone()) && rng.gen_bool(0.95) {
                server.pay(&no, DELIVERY_PATIENCE);
            }
        }
        for (no, transfer) in server.transfers() {
            if transfer.state == "ACCEPTED" && decided.insert(no.clone()) {
                let state = if rng.gen_bool(0.95) { "SUCCESS" } else { "FAIL" };
                server.finish_transfer(&no, state, DELIVERY_PATIENCE);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
