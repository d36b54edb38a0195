//! The payment-provider port and its development adapter, a simulated provider (the real one:
//! [`crate::wechat`]).
//!
//! A request is submitted (idempotent by request id) and its outcome arrives later as a
//! [`Confirmation`] on a channel, the way a real provider calls back asynchronously.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use futures::{FutureExt, future::BoxFuture};
use rand::Rng;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::{
    config::SimulatedProviderSettings,
    domain::{Money, provider::Outcome},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// Charge the user's card or bank: money comes in.
    TopUp,
    /// Pay out to the user's bank: money goes out.
    Withdrawal,
}

impl RequestKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::TopUp => "top_up",
            RequestKind::Withdrawal => "withdrawal",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "top_up" => Some(RequestKind::TopUp),
            "withdrawal" => Some(RequestKind::Withdrawal),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProviderRequest {
    pub id: Uuid,
    pub kind: RequestKind,
    pub user: Uuid,
    pub amount: Money,
    /// For a withdrawal: the user's WeChat openid to pay out to, if they gave one.
    pub payout_openid: Option<String>,
}

/// The provider's answer to one request, delivered asynchronously.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Confirmation {
    pub id: Uuid,
    pub kind: RequestKind,
    pub outcome: Outcome,
    /// What the provider says moved, when it says (checked against the request before the
    /// wallet is credited).
    pub amount: Option<Money>,
}

/// What submitting a request led to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Submitted {
    /// The provider works on it; the outcome arrives as a [`Confirmation`].
    Accepted,
    /// The payer must approve it in the provider's app first, with these parameters; the
    /// outcome arrives once they have (or the order is closed unpaid).
    AwaitingPayer(AppPayment),
}

/// What a mobile app hands the provider's SDK to pay an order (WeChat Pay's APP payment).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppPayment {
    pub app_id: String,
    pub partner_id: String,
    pub prepay_id: String,
    pub package: String,
    pub nonce_str: String,
    pub timestamp: String,
    pub sign: String,
}

#[derive(Debug, thiserror::Error)]
#[error("payment provider unavailable: {0}")]
pub struct ProviderUnavailable(pub String);

/// What payments needs from a payment provider.
pub trait PaymentProvider: Send + Sync + 'static {
    /// Accepts a request for processing. Submitting the same id again must not charge or pay
    /// twice (a request left unconfirmed is submitted again: the adapter asks the provider
    /// where it stands); the outcome is delivered on the confirmation channel given at
    /// construction.
    fn submit(&self, request: ProviderRequest) -> BoxFuture<'_, Result<Submitted, ProviderUnavailable>>;
}

/// A provider that confirms after a random latency and fails at a configured rate.
pub struct SimulatedProvider {
    settings: SimulatedProviderSettings,
    confirmations: mpsc::UnboundedSender<Confirmation>,
    /// Outcomes already decided, so a resubmission gets the same answer.
    decided: Mutex<HashMap<Uuid, Outcome>>,
}

impl SimulatedProvider {
    pub fn new(settings: SimulatedProviderSettings) -> (Arc<Self>, mpsc::UnboundedReceiver<Confirmation>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Arc::new(Self { settings, confirmations: tx, decided: Mutex::new(HashMap::new()) }), rx)
    }

    fn decide(&self, id: Uuid) -> Outcome {
        let mut decided = self.decided.lock().expect("provider state");
        decided
            .entry(id)
            .or_insert_with(|| {
                if rand::thread_rng().r#gen::<f64>() < self.settings.failure_rate {
                    Outcome::Failed { reason: "declined by the payment provider (simulated)".into() }
                } else {
                    Outcome::Succeeded { provider_reference: format!("sim-{}", id.simple()) }
                }
            })
            .clone()
    }
}

impl PaymentProvider for SimulatedProvider {
    fn submit(&self, request: ProviderRequest) -> BoxFuture<'_, Result<Submitted, ProviderUnavailable>> {
        async move {
            let outcome = self.decide(request.id);
            let (lo, hi) =
                (self.settings.min_latency_ms, self.settings.max_latency_ms.max(self.settings.min_latency_ms));
            let latency = Duration::from_millis(rand::thread_rng().gen_range(lo..=hi));
            let confirmations = self.confirmations.clone();
            tokio::spawn(async move {
                tokio::time::sleep(latency).await;
                let _ = confirmations.send(Confirmation { id: request.id, kind: request.kind, outcome, amount: None });
            });
            Ok(Submitted::Accepted)
        }
        .boxed()
    }
}
