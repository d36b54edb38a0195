//! The SMS port, its two adapters and the delivery that retries.
//!
//! A code request answers as soon as its SMS is queued: sending waits on an outside gateway
//! that may be slow or down, and a phone that got no SMS simply asks again (within the resend
//! limits). The queue is bounded; when it is full a request is refused before any code is made.

mod development;
mod http;

use std::{sync::Arc, time::Duration};

use futures::future::BoxFuture;
use tokio::sync::{Semaphore, mpsc};

pub use development::DevelopmentSender;
pub use http::HttpSender;

use crate::domain::{
    phone::PhoneNumber,
    phone_code::{CodePurpose, SmsText},
};

/// One SMS to send.
#[derive(Clone, Debug)]
pub struct Sms {
    pub to: PhoneNumber,
    pub text: SmsText,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Worth another try later (the gateway is down, slow or rate limiting).
    #[error("SMS gateway unavailable: {0}")]
    Transient(String),
    /// Trying again will not help (refused credentials, a number the gateway rejects).
    #[error("SMS refused: {0}")]
    Permanent(String),
}

/// What the users service needs from an SMS gateway.
pub trait SmsSender: Send + Sync + 'static {
    /// Sends `body` (the rendered `text`) to `to`.
    fn send<'a>(
        &'a self,
        to: &'a PhoneNumber,
        text: &'a SmsText,
        body: &'a str,
    ) -> BoxFuture<'a, Result<(), SendError>>;
}

/// The words of each SMS; `{code}` and `{minutes}` are filled in.
#[derive(Clone, Debug)]
pub struct Templates {
    pub sign_up: String,
    pub reset_password: String,
    pub already_registered: String,
    pub not_registered: String,
    /// How long a code works, for `{minutes}`.
    pub code_ttl: Duration,
}

impl Templates {
    pub fn render(&self, text: &SmsText) -> String {
        let minutes = self.code_ttl.as_secs().div_ceil(60).to_string();
        match text {
            SmsText::Code { purpose, code } => {
                let template = match purpose {
                    CodePurpose::SignUp => &self.sign_up,
                    CodePurpose::ResetPassword => &self.reset_password,
                };
                template.replace("{code}", code.as_str()).replace("{minutes}", &minutes)
            }
            SmsText::AlreadyRegistered => self.already_registered.clone(),
            SmsText::NotRegistered => self.not_registered.clone(),
        }
    }
}

/// How a message that fails for a transient reason is tried again.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The wait before the second try; it doubles after each one.
    pub backoff: Duration,
}

/// SMS at most this many at once to the gateway.
const SENDING_AT_ONCE: usize = 8;

/// Where code requests leave their SMS; a worker sends them.
#[derive(Clone)]
pub struct SmsOutbox {
    queue: mpsc::Sender<Sms>,
}

impl SmsOutbox {
    /// Starts the worker that sends what is queued through `sender`.
    pub fn start(sender: Arc<dyn SmsSender>, templates: Templates, retry: Retry, capacity: usize) -> Self {
        let (queue, mut queued) = mpsc::channel::<Sms>(capacity.max(1));
        tokio::spawn(async move {
            let sending = Arc::new(Semaphore::new(SENDING_AT_ONCE));
            while let Some(sms) = queued.recv().await {
                let Ok(turn) = sending.clone().acquire_owned().await else { break };
                let (sender, body) = (sender.clone(), templates.render(&sms.text));
                tokio::spawn(async move {
                    deliver(sender.as_ref(), &sms, &body, retry).await;
                    drop(turn);
                });
            }
        });
        Self { queue }
    }

    /// A place in the queue, or None when it is full.
    pub fn reserve(&self) -> Option<mpsc::OwnedPermit<Sms>> {
        self.queue.clone().try_reserve_owned().ok()
    }
}

async fn deliver(sender: &dyn SmsSender, sms: &Sms, body: &str, retry: Retry) {
    let kind = match sms.text {
        SmsText::Code { purpose, .. } => purpose.as_str(),
        SmsText::AlreadyRegistered => "already_registered",
        SmsText::NotRegistered => "not_registered",
    };
    let mut wait = retry.backoff;
    for attempt in 1..=retry.attempts.max(1) {
        match sender.send(&sms.to, &sms.text, body).await {
            Ok(()) => {
                metrics::counter!("tuan_sms_total", "kind" => kind, "outcome" => "sent").increment(1);
                return;
            }
            Err(SendError::Transient(reason)) if attempt < retry.attempts => {
                tracing::warn!(attempt, %reason, "SMS not sent; trying again");
                metrics::counter!("tuan_sms_retries_total", "kind" => kind).increment(1);
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            Err(error) => {
                tracing::error!(%error, attempts = attempt, "SMS not sent; giving up");
                metrics::counter!("tuan_sms_total", "kind" => kind, "outcome" => "failed").increment(1);
                return;
            }
        }
    }
}
