//! Demo data for `make run`: an operator, a verified merchant, and three friends.
//! Talks to the running users service over gRPC; safe to run twice.

use tonic::{Code, Request, transport::Channel};
use tuan_proto::users::v1::{self as pb, users_service_client::UsersServiceClient};

const PASSWORD: &str = "tuan-demo-2026";

struct Demo {
    client: UsersServiceClient<Channel>,
}

impl Demo {
    async fn account(&mut self, phone: &str, name: &str) -> anyhow::Result<pb::AuthTokens> {
        let sign_up = pb::SignUpRequest {
            phone: phone.into(),
            password: PASSWORD.into(),
            display_name: name.into(),
            region: "Shanghai".into(),
        };
        match self.client.sign_up(sign_up).await {
            Ok(tokens) => Ok(tokens.into_inner()),
            Err(status) if status.code() == Code::AlreadyExists => {
                let login = pb::LoginRequest { phone: phone.into(), password: PASSWORD.into() };
                Ok(self.client.login(login).await?.into_inner())
            }
            Err(status) => Err(status.into()),
        }
    }
}

fn authed<T>(tokens: &pb::AuthTokens, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {}", tokens.access_token).parse().expect("ascii token"));
    request
}

/// Ignores "already done" answers, so the seed can run again.
fn tolerate<T>(result: Result<T, tonic::Status>) -> anyhow::Result<()> {
    match result {
        Ok(_) => Ok(()),
        Err(s) if matches!(s.code(), Code::AlreadyExists | Code::FailedPrecondition | Code::NotFound) => Ok(()),
        Err(s) => Err(s.into()),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let addr = std::env::var("TUAN_USERS_URL").unwrap_or_else(|_| "http://127.0.0.1:50051".into());
    let mut demo = Demo { client: UsersServiceClient::connect(addr).await? };
    let operator = demo.account("+8613800000000", "Operator").await?;
    let merchant = demo.account("+8613800000001", "Fresh Fruit Co").await?;
    let alice = demo.account("+8613800000002", "Alice").await?;
    let bob = demo.account("+8613800000003", "Bob").await?;
    let carol = demo.account("+8613800000004", "Carol").await?;

    for (from, to) in [(&alice, &bob), (&alice, &carol), (&bob, &carol)] {
        let ask = pb::SendFriendRequestRequest { user_id: to.user_id.clone(), message: "let's buy together".into() };
        tolerate(demo.client.send_friend_request(authed(from, ask)).await)?;
        tolerate(
            demo.client.accept_friend_request(authed(to, pb::FriendTarget { user_id: from.user_id.clone() })).await,
        )?;
    }
    let application = pb::ApplyMerchantRequest {
        business_name: "Fresh Fruit Co".into(),
        license_number: "91310000-FRUIT".into(),
        contact_phone: "+8613800000001".into(),
        category: "grocery".into(),
    };
    tolerate(demo.client.apply_merchant(authed(&merchant, application)).await)?;
    let verify = pb::VerifyMerchantRequest { user_id: merchant.user_id.clone() };
    tolerate(demo.client.verify_merchant(authed(&operator, verify)).await)?;

    println!("demo users (password {PASSWORD}):");
    for (name, phone, t) in [
        ("operator", "+8613800000000", &operator),
        ("merchant", "+8613800000001", &merchant),
        ("alice", "+8613800000002", &alice),
        ("bob", "+8613800000003", &bob),
        ("carol", "+8613800000004", &carol),
    ] {
        println!("  {name:<9} {phone}  user_id {}", t.user_id);
    }
    Ok(())
}
