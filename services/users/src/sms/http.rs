//! An SMS gateway over HTTP, speaking Twilio's Messages API (which many gateways also accept):
//! `POST {url}/2010-04-01/Accounts/{account}/Messages.json` with HTTP basic auth
//! (account, token) and a form of `To`, `From` and `Body`; 2xx is sent. 429, 5xx and network
//! failures are worth another try, other answers are not.

use std::time::Duration;

use futures::{FutureExt, future::BoxFuture};
use secrecy::{ExposeSecret, SecretString};

use super::{SendError, SmsSender};
use crate::domain::{phone::PhoneNumber, phone_code::SmsText};

pub struct HttpSender {
    client: reqwest::Client,
    endpoint: String,
    account: String,
    token: SecretString,
    from: String,
}

impl HttpSender {
    pub fn new(url: &str, account: &str, token: SecretString, from: &str, timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder().timeout(timeout).build()?;
        let endpoint = format!("{}/2010-04-01/Accounts/{account}/Messages.json", url.trim_end_matches('/'));
        Ok(Self { client, endpoint, account: account.to_string(), token, from: from.to_string() })
    }
}

impl SmsSender for HttpSender {
    fn send<'a>(&'a self, to: &'a PhoneNumber, _: &'a SmsText, body: &'a str) -> BoxFuture<'a, Result<(), SendError>> {
        async move {
            let response = self
                .client
                .post(&self.endpoint)
                .basic_auth(&self.account, Some(self.token.expose_secret()))
                .form(&[("To", to.as_str()), ("From", self.from.as_str()), ("Body", body)])
                .send()
                .await
                .map_err(|e| SendError::Transient(e.without_url().to_string()))?;
            let status = response.status();
            if status.is_success() {
                return Ok(());
            }
            // The gateway's own words, when it gives some ({"code": .., "message": ..}).
            let detail = response.text().await.unwrap_or_default();
            let detail: String = detail.chars().take(200).collect();
            if status.as_u16() == 429 || status.is_server_error() {
                Err(SendError::Transient(format!("{status}: {detail}")))
            } else {
                Err(SendError::Permanent(format!("{status}: {detail}")))
            }
        }
        .boxed()
    }
}
