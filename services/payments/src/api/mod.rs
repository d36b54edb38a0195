//! The gRPC face of the payments service: parse requests into domain values, call the use
//! case, shape the reply.

mod convert;

use tonic::{Request, Response, Status};
use tuan_proto::payments::v1::{self as pb, payments_service_server::PaymentsService};
use tuan_runtime::{
    ApiError,
    auth::caller,
    grpc::{event_meta, idempotency_key as key_of, parse_uuid},
    paging::{Page, parse_time_cursor, time_cursor},
};
use uuid::Uuid;

use crate::{
    app::{Group, PaymentsApp, bills::NewBill, holds::hold_row_view, wallet::request_view},
    domain::{
        Currency, Money, MoneyError, Participants, PaymentError, SplitMethod,
        bill::Title,
        charity::{CreateCampaign, Description},
        hold::HoldRequest,
        journal::Memo,
    },
    provider::RequestKind,
};

pub use tuan_proto::payments::v1::payments_service_server::PaymentsServiceServer;

/// The payments gRPC service.
#[derive(Clone)]
pub struct PaymentsApi {
    app: PaymentsApp,
}

impl PaymentsApi {
    pub fn new(app: PaymentsApp) -> Self {
        Self { app }
    }
}

type Reply<T> = Result<Response<T>, Status>;

fn currency(code: &str) -> Result<Currency, ApiError> {
    Currency::parse(code.trim()).map_err(ApiError::from)
}

fn money(amount: &str, code: &str) -> Result<Money, ApiError> {
    Money::parse_positive(amount.trim(), currency(code)?).map_err(ApiError::from)
}

tuan_kernel::text_type!(
    /// A free-form reference an operator attaches to a hold (a campaign or team id): stored as
    /// text, so bounded and one line.
    Reference, "reference", tuan_kernel::text::Bounds::line(0, 64));

fn reference(field: &str, value: &str) -> Result<String, ApiError> {
    Ok(Reference::parse_as(field, value)?.into_string())
}

fn optional_uuid(field: &str, value: &str) -> Result<Option<Uuid>, ApiError> {
    if value.trim().is_empty() { Ok(None) } else { parse_uuid(field, value).map(Some) }
}

fn group(circle: Option<&pb::get_group_balances_request::Group>) -> Result<Group, ApiError> {
    use pb::get_group_balances_request::Group as G;
    match circle {
        Some(G::CircleId(c)) => Ok(Group::Circle(parse_uuid("circle_id", c)?)),
        Some(G::FriendId(f)) => Ok(Group::Friend(parse_uuid("friend_id", f)?)),
        None => Err(ApiError::invalid("circle_id or friend_id is required")),
    }
}

fn settle_group(g: Option<&pb::settle_up_request::Group>) -> Result<Group, ApiError> {
    use pb::settle_up_request::Group as G;
    match g {
        Some(G::CircleId(c)) => Ok(Group::Circle(parse_uuid("circle_id", c)?)),
        Some(G::FriendId(f)) => Ok(Group::Friend(parse_uuid("friend_id", f)?)),
        None => Err(ApiError::invalid("circle_id or friend_id is required")),
    }
}

/// Parses the split: participants in order, and the method's values.
fn split(r: &pb::CreateBillRequest, total: Money) -> Result<(Vec<Uuid>, SplitMethod), ApiError> {
    let users =
        r.participants.iter().map(|p| parse_uuid("participants.user_id", &p.user_id)).collect::<Result<Vec<_>, _>>()?;
    Participants::new(users.clone()).map_err(ApiError::from)?;
    let values = || r.participants.iter().map(|p| p.value.trim());
    let method = match r.split_method() {
        pb::SplitMethod::Unspecified => return Err(ApiError::invalid("split_method is required")),
        pb::SplitMethod::Equal => SplitMethod::Equal,
        pb::SplitMethod::Exact => SplitMethod::Exact(
            values()
                .map(|v| Money::parse_positive(v, total.currency()).map_err(ApiError::from))
                .collect::<Result<_, _>>()?,
        ),
        pb::SplitMethod::Percent => SplitMethod::Percent(
            values()
                .map(|v| {
                    rust_decimal::Decimal::from_str_exact(v)
                        .map_err(|_| ApiError::invalid(format!("percentage {v:?} is not a decimal number")))
                })
                .collect::<Result<_, _>>()?,
        ),
        pb::SplitMethod::Shares => SplitMethod::Shares(
            values()
                .map(|v| {
                    v.parse::<u32>().map_err(|_| ApiError::invalid(format!("shares {v:?} must be a whole number")))
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    Ok((users, method))
}

#[tonic::async_trait]
impl PaymentsService for PaymentsApi {
    async fn top_up(&self, request: Request<pb::TopUpRequest>) -> Reply<pb::ProviderRequest> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let key = key_of("TopUp", r, &r.idempotency_key, |m| m.idempotency_key.clear())?;
        let amount = money(&r.amount, &r.currency)?;
        Ok(Response::new(self.app.top_up(&meta, &caller, amount, &key).await?))
    }

    async fn get_top_up(&self, request: Request<pb::GetProviderRequestRequest>) -> Reply<pb::ProviderRequest> {
        let caller = caller(&request)?;
        let id = parse_uuid("request_id", &request.get_ref().request_id)?;
        let mut view = request_view(&self.app.provider_request(&caller, id, RequestKind::TopUp).await?);
        view.app_payment = self.app.app_payment(id).await?.map(|p| pb::AppPayment {
            app_id: p.app_id,
            partner_id: p.partner_id,
            prepay_id: p.prepay_id,
            package: p.package,
            nonce_str: p.nonce_str,
            timestamp: p.timestamp,
            sign: p.sign,
        });
        Ok(Response::new(view))
    }

    async fn withdraw(&self, request: Request<pb::WithdrawRequest>) -> Reply<pb::ProviderRequest> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let key = key_of("Withdraw", r, &r.idempotency_key, |m| m.idempotency_key.clear())?;
        let amount = money(&r.amount, &r.currency)?;
        let openid = r.wechat_openid.trim();
        let valid = openid.len() <= 128 && openid.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(ApiError::invalid("wechat_openid must be at most 128 letters, digits, '-' or '_'").into());
        }
        let openid = (!openid.is_empty()).then_some(openid);
        Ok(Response::new(self.app.withdraw(&meta, &caller, amount, openid, &key).await?))
    }

    async fn get_withdrawal(&self, request: Request<pb::GetProviderRequestRequest>) -> Reply<pb::ProviderRequest> {
        let caller = caller(&request)?;
        let id = parse_uuid("request_id", &request.get_ref().request_id)?;
        Ok(Response::new(request_view(&self.app.provider_request(&caller, id, RequestKind::Withdrawal).await?)))
    }

    async fn transfer(&self, request: Request<pb::TransferRequest>) -> Reply<pb::TransferReceipt> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let key = key_of("Transfer", r, &r.idempotency_key, |m| m.idempotency_key.clear())?;
        let to = parse_uuid("to_user_id", &r.to_user_id)?;
        let amount = money(&r.amount, &r.currency)?;
        let memo = Memo::parse(&r.memo).map_err(ApiError::from)?;
        Ok(Response::new(self.app.transfer(&meta, &caller, to, amount, memo, &key).await?))
    }

    async fn get_wallet(&self, request: Request<pb::GetWalletRequest>) -> Reply<pb::Wallet> {
        let caller = caller(&request)?;
        // Empty: the caller's own wallet.
        let user_id = match request.get_ref().user_id.trim() {
            "" => caller.user_id,
            id => parse_uuid("user_id", id)?,
        };
        let wallet = self.app.wallet(&caller, user_id).await?;
        Ok(Response::new(pb::Wallet {
            user_id: user_id.to_string(),
            balances: wallet
                .balances
                .into_iter()
                .map(|(currency, available, held)| pb::Balance {
                    currency,
                    available: available.to_string(),
                    held: held.to_string(),
                })
                .collect(),
            open_holds: wallet.open_holds.iter().map(hold_row_view).collect(),
        }))
    }

    async fn get_statement(&self, request: Request<pb::GetStatementRequest>) -> Reply<pb::Statement> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let page = Page::parse(r.page.as_ref())?;
        let after = page.cursor.as_deref().map(convert::parse_posting_cursor).transpose()?;
        let currency = if r.currency.trim().is_empty() { None } else { Some(currency(&r.currency)?) };
        let mut rows = self.app.statement(&caller, currency, after, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut rows, convert::posting_cursor);
        Ok(Response::new(pb::Statement { lines: rows.iter().map(convert::statement_line).collect(), next_cursor }))
    }

    async fn place_hold(&self, request: Request<pb::PlaceHoldRequest>) -> Reply<pb::Hold> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let key = key_of("PlaceHold", r, &r.idempotency_key, |m| m.idempotency_key.clear())?;
        if r.expires_at_micros < 0 {
            return Err(ApiError::invalid("expires_at_micros must not be negative").into());
        }
        let hold = HoldRequest {
            hold_id: parse_uuid("hold_id", &r.hold_id)?,
            user: parse_uuid("user_id", &r.user_id)?,
            merchant: parse_uuid("merchant_id", &r.merchant_id)?,
            amount: money(&r.amount, &r.currency)?,
            campaign_id: reference("campaign_id", &r.campaign_id)?,
            team_id: reference("team_id", &r.team_id)?,
            expires_at_micros: self.app.hold_expiry(r.expires_at_micros),
        };
        Ok(Response::new(self.app.place_hold(&meta, &caller, hold, &key).await?))
    }

    async fn capture_hold(&self, request: Request<pb::CaptureHoldRequest>) -> Reply<pb::Hold> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let key = key_of("CaptureHold", r, &r.idempotency_key, |m| m.idempotency_key.clear())?;
        let hold_id = parse_uuid("hold_id", &r.hold_id)?;
        let amount = if r.amount.trim().is_empty() {
            None
        } else {
            let hold = self.app.hold(&caller, hold_id).await?;
            Some(money(&r.amount, &hold.currency)?)
        };
        Ok(Response::new(self.app.capture_hold(&meta, &caller, hold_id, amount, r.r#final, &key).await?))
    }

    async fn release_hold(&self, request: Request<pb::ReleaseHoldRequest>) -> Reply<pb::Hold> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let key = key_of("ReleaseHold", r, &r.idempotency_key, |m| m.idempotency_key.clear())?;
        let hold_id = parse_uuid("hold_id", &r.hold_id)?;
        let reason = if r.reason.trim().is_empty() {
            "released by an operator".to_string()
        } else {
            r.reason.trim().to_string()
        };
        Ok(Response::new(self.app.release_hold(&meta, &caller, hold_id, reason, &key).await?))
    }

    async fn get_hold(&self, request: Request<pb::GetHoldRequest>) -> Reply<pb::Hold> {
        let caller = caller(&request)?;
        let hold_id = parse_uuid("hold_id", &request.get_ref().hold_id)?;
        Ok(Response::new(hold_row_view(&self.app.hold(&caller, hold_id).await?)))
    }

    async fn create_bill(&self, request: Request<pb::CreateBillRequest>) -> Reply<pb::Bill> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let key = key_of("CreateBill", r, &r.idempotency_key, |m| m.idempotency_key.clear())?;
        let total = money(&r.total, &r.currency)?;
        let (participants, method) = split(r, total)?;
        let payers = r
            .payers
            .iter()
            .map(|p| {
                Ok((
                    parse_uuid("payers.user_id", &p.user_id)?,
                    Money::parse_positive(p.amount.trim(), total.currency())?,
                ))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let new = NewBill {
            title: Title::parse(&r.title).map_err(ApiError::from)?,
            total,
            payers,
            participants,
            method,
            circle: optional_uuid("circle_id", &r.circle_id)?,
        };
        Ok(Response::new(self.app.create_bill(&meta, &caller, new, &key).await?))
    }

    async fn get_bill(&self, request: Request<pb::GetBillRequest>) -> Reply<pb::Bill> {
        let caller = caller(&request)?;
        let bill_id = parse_uuid("bill_id", &request.get_ref().bill_id)?;
        Ok(Response::new(self.app.bill(&caller, bill_id).await?))
    }

    async fn list_bills(&self, request: Request<pb::ListBillsRequest>) -> Reply<pb::ListBillsResponse> {
        let caller = caller(&request)?;
        let r = request.get_ref();
        let page = Page::parse(r.page.as_ref())?;
        let after = page.cursor.as_deref().map(convert::parse_bill_cursor).transpose()?;
        let circle = optional_uuid("circle_id", &r.circle_id)?;
        let mut bills = self.app.bills(&caller, circle, after, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut bills, convert::bill_cursor);
        Ok(Response::new(pb::ListBillsResponse { bills, next_cursor }))
    }

    async fn open_collection(&self, request: Request<pb::OpenCollectionRequest>) -> Reply<pb::Collection> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let bill_id = parse_uuid("bill_id", &request.get_ref().bill_id)?;
        Ok(Response::new(self.app.open_collection(&meta, &caller, bill_id).await?))
    }

    async fn pay_collection(&self, request: Request<pb::PayCollectionRequest>) -> Reply<pb::CollectionPaymentReceipt> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let key = key_of("PayCollection", r, &r.idempotency_key, |m| m.idempotency_key.clear())?;
        let id = parse_uuid("collection_id", &r.collection_id)?;
        Ok(Response::new(self.app.pay_collection(&meta, &caller, id, &key).await?))
    }

    async fn remind_collection(&self, request: Request<pb::RemindCollectionRequest>) -> Reply<pb::Collection> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let id = parse_uuid("collection_id", &request.get_ref().collection_id)?;
        Ok(Response::new(self.app.remind_collection(&meta, &caller, id).await?))
    }

    async fn close_collection(&self, request: Request<pb::CloseCollectionRequest>) -> Reply<pb::Collection> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let id = parse_uuid("collection_id", &request.get_ref().collection_id)?;
        Ok(Response::new(self.app.close_collection(&meta, &caller, id).await?))
    }

    async fn get_collection(&self, request: Request<pb::GetCollectionRequest>) -> Reply<pb::Collection> {
        let caller = caller(&request)?;
        let id = parse_uuid("collection_id", &request.get_ref().collection_id)?;
        Ok(Response::new(self.app.collection(&caller, id).await?))
    }

    async fn list_my_open_collections(
        &self,
        request: Request<pb::ListMyOpenCollectionsRequest>,
    ) -> Reply<pb::ListMyOpenCollectionsResponse> {
        let caller = caller(&request)?;
        let page = Page::parse(request.get_ref().page.as_ref())?;
        let before = page.cursor.as_deref().map(parse_time_cursor).transpose()?;
        let mut rows = self.app.my_open_collections(&caller, before, page.fetch_limit()).await?;
        let next_cursor = page.finish(&mut rows, |c| time_cursor(c.opened_at, c.collection_id));
        Ok(Response::new(pb::ListMyOpenCollectionsResponse {
            collections: rows.into_iter().map(|c| c.view).collect(),
            next_cursor,
        }))
    }

    async fn get_group_balances(&self, request: Request<pb::GetGroupBalancesRequest>) -> Reply<pb::GroupBalances> {
        let caller = caller(&request)?;
        let group = group(request.get_ref().group.as_ref())?;
        Ok(Response::new(self.app.group_balances(&caller, group).await?))
    }

    async fn settle_up(&self, request: Request<pb::SettleUpRequest>) -> Reply<pb::SettleUpResponse> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let key = key_of("SettleUp", r, &r.idempotency_key, |m| m.idempotency_key.clear())?;
        let group = settle_group(r.group.as_ref())?;
        let currency = currency(&r.currency)?;
        Ok(Response::new(self.app.settle_up(&meta, &caller, group, currency, &key).await?))
    }

    async fn create_charity_campaign(
        &self,
        request: Request<pb::CreateCharityCampaignRequest>,
    ) -> Reply<pb::CharityCampaign> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let key = key_of("CreateCharityCampaign", r, &r.idempotency_key, |m| m.idempotency_key.clear())?;
        let currency = currency(&r.currency)?;
        let goal = if r.goal.trim().is_empty() { None } else { Some(money(&r.goal, currency.code())?) };
        let create = CreateCampaign {
            campaign_id: Uuid::now_v7(),
            organiser: caller.user_id,
            title: Title::parse(&r.title).map_err(ApiError::from)?,
            description: Description::parse(&r.description).map_err(ApiError::from)?,
            currency,
            goal,
        };
        Ok(Response::new(self.app.create_campaign(&meta, &caller, create, &key).await?))
    }

    async fn donate(&self, request: Request<pb::DonateRequest>) -> Reply<pb::DonationReceipt> {
        let caller = caller(&request)?;
        let meta = event_meta(&request);
        let r = request.get_ref();
        let key = key_of("Donate", r, &r.idempotency_key, |m| m.idempotency_key.clear())?;
        let campaign = parse_uuid("campaign_id", &r.campaign_id)?;
        if r.amount.trim().is_empty() {
            return Err(ApiError::from(PaymentError::Money(MoneyError::MalformedAmount(String::new()))).into());
        }
        Ok(Response::new(self.app.donate(&meta, &caller, campaign, r.amount.trim(), &key).await?))
    }

    async fn get_charity_campaign(
        &self,
        request: Request<pb::GetCharityCampaignRequest>,
    ) -> Reply<pb::CharityCampaign> {
        caller(&request)?;
        let campaign = parse_uuid("campaign_id", &request.get_ref().campaign_id)?;
        Ok(Response::new(self.app.campaign(campaign).await?))
    }
}
