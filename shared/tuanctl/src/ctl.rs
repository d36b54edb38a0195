//! A session with the services: an operator's token and where each service is.

use std::time::Duration;

use anyhow::{Context as _, bail};
use tonic::{Request, transport::Channel};
use tuan_proto::{
    admin::v1::admin_client::AdminClient,
    users::v1::{self as us, users_service_client::UsersServiceClient},
};

use crate::cli::*;

pub(crate) struct Ctl {
    pub(crate) json: bool,
    pub(crate) token: String,
    /// The operator's own user id, when logged in with a phone number.
    pub(crate) me: Option<String>,
    pub(crate) users_addr: String,
    pub(crate) circles_addr: String,
    pub(crate) groupbuy_addr: String,
    pub(crate) payments_addr: String,
}

pub(crate) async fn connect(addr: &str) -> anyhow::Result<Channel> {
    let url = if addr.contains("://") { addr.to_string() } else { format!("http://{addr}") };
    tonic::transport::Endpoint::from_shared(url.clone())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("cannot connect to {url}"))
}

/// A gRPC error as one line: the code and the service's message.
pub(crate) fn status(e: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", e.code(), e.message())
}

impl Ctl {
    pub(crate) async fn new(cli: &Cli) -> anyhow::Result<Self> {
        let mut ctl = Self {
            json: cli.json,
            token: String::new(),
            me: None,
            users_addr: cli.users_addr.clone(),
            circles_addr: cli.circles_addr.clone(),
            groupbuy_addr: cli.groupbuy_addr.clone(),
            payments_addr: cli.payments_addr.clone(),
        };
        match (&cli.token, &cli.phone, &cli.password) {
            (Some(token), _, _) => ctl.token = token.trim().to_string(),
            (None, Some(phone), Some(password)) => {
                let mut users = UsersServiceClient::new(connect(&ctl.users_addr).await?);
                let tokens = users
                    .login(us::LoginRequest { phone: phone.clone(), password: password.clone() })
                    .await
                    .map_err(status)
                    .context("logging in")?
                    .into_inner();
                ctl.token = tokens.access_token;
                ctl.me = Some(tokens.user_id);
            }
            _ => bail!("give an operator's credentials: --token, or --phone and --password (or TUAN_TOKEN, ...)"),
        }
        Ok(ctl)
    }

    pub(crate) fn authed<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        if let Ok(value) = format!("Bearer {}", self.token).parse() {
            request.metadata_mut().insert("authorization", value);
        }
        request
    }

    pub(crate) fn addr(&self, service: Service) -> &str {
        match service {
            Service::Users => &self.users_addr,
            Service::Circles => &self.circles_addr,
            Service::Groupbuy => &self.groupbuy_addr,
            Service::Payments => &self.payments_addr,
        }
    }

    pub(crate) async fn users(&self) -> anyhow::Result<UsersServiceClient<Channel>> {
        Ok(UsersServiceClient::new(connect(&self.users_addr).await?))
    }

    pub(crate) async fn admin(&self, service: Service) -> anyhow::Result<AdminClient<Channel>> {
        Ok(AdminClient::new(connect(self.addr(service)).await?))
    }
}
