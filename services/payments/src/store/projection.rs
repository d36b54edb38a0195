//! Read models of the payments service, kept inline with every append and rebuildable.
//!
//! Balances are the sum of journal postings. Each posting is applied as
//! `balance = balance + delta` in the command's own transaction; the CHECK constraint refuses
//! any non-clearing account going below zero, which aborts the whole command (nothing is half
//! done). Concurrent debits of one wallet serialise on its row lock. Postings are applied in
//! account order, so two entries touching the same accounts always lock them in the same order.

use chrono::{DateTime, Utc};
use futures::{FutureExt, future::BoxFuture};
use prost::Message as _;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use tuan_eventstore::{Aggregate, Projection, RecordedEvent, StoreError, decode_event, stored_uuid};
use uuid::Uuid;

use crate::domain::{
    Currency, NetBalances, NetEffect,
    bill::{AaBill, BillEvent, Collection, CollectionEvent, group_key},
    charity::{CharityCampaign, CharityEvent},
    events as pb,
    hold::{Hold, HoldEvent, HoldStatus},
    journal::{Journal, JournalEvent},
    provider::{TopUp, TopUpEvent, Withdrawal, WithdrawalEvent},
    simplify,
};
use crate::store::queries::HoldRow;

/// The only accounts allowed below zero: they mirror the payment provider.
pub const CLEARING_ACCOUNTS: [&str; 2] = ["top-up-clearing", "withdrawal-clearing"];
/// The balance constraint; its violation means "insufficient funds".
pub const NO_OVERDRAFT: &str = "account_balances_no_overdraft";

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS account_balances (
    account  TEXT NOT NULL,
    currency TEXT NOT NULL,
    balance  NUMERIC(20,2) NOT NULL,
    PRIMARY KEY (account, currency),
    CONSTRAINT account_balances_no_overdraft
        CHECK (balance >= 0 OR account IN ('top-up-clearing', 'withdrawal-clearing'))
);

CREATE TABLE IF NOT EXISTS ledger_postings (
    position     BIGINT NOT NULL,
    idx          INT NOT NULL,
    entry_id     UUID NOT NULL,
    kind         TEXT NOT NULL,
    account      TEXT NOT NULL,
    currency     TEXT NOT NULL,
    amount       NUMERIC(20,2) NOT NULL,
    memo         TEXT NOT NULL,
    reference_id TEXT NOT NULL,
    counterparty UUID,
    posted_at    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (position, idx)
);
CREATE INDEX IF NOT EXISTS ledger_postings_account ON ledger_postings (account, position DESC, idx DESC);

CREATE TABLE IF NOT EXISTS holds (
    hold_id          UUID PRIMARY KEY,
    user_id          UUID NOT NULL,
    merchant_id      UUID NOT NULL,
    currency         TEXT NOT NULL,
    amount           NUMERIC(20,2) NOT NULL,
    captured         NUMERIC(20,2) NOT NULL,
    remaining        NUMERIC(20,2) NOT NULL,
    status           TEXT NOT NULL,
    campaign_id      TEXT NOT NULL,
    team_id          TEXT NOT NULL,
    expires_at       TIMESTAMPTZ,
    rejection_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS holds_due ON holds (expires_at) WHERE status = 'placed';
CREATE INDEX IF NOT EXISTS holds_open_by_user ON holds (user_id) WHERE status = 'placed';

CREATE TABLE IF NOT EXISTS provider_requests (
    request_id      UUID PRIMARY KEY,
    kind            TEXT NOT NULL,
    user_id         UUID NOT NULL,
    amount          NUMERIC(20,2) NOT NULL,
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL,
    failure_reason  TEXT NOT NULL DEFAULT '',
    requested_at    TIMESTAMPTZ NOT NULL,
    -- Dispatch bookkeeping: when to (re)submit to the provider. A rebuild resets it, which
    -- only resubmits pending requests; the provider is idempotent by request id.
    next_attempt_at TIMESTAMPTZ NOT NULL,
    attempts        INT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS provider_requests_due ON provider_requests (next_attempt_at) WHERE status = 'pending';

CREATE TABLE IF NOT EXISTS bills (
    bill_id    UUID PRIMARY KEY,
    circle_id  UUID,
    created_at TIMESTAMPTZ NOT NULL,
    -- The BillRecorded event, protobuf-encoded: the bill as recorded.
    recorded   BYTEA NOT NULL
);
CREATE TABLE IF NOT EXISTS bill_members (
    user_id    UUID NOT NULL,
    bill_id    UUID NOT NULL,
    circle_id  UUID,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, bill_id)
);
CREATE INDEX IF NOT EXISTS bill_members_recent ON bill_members (user_id, created_at DESC, bill_id DESC);

-- Net balance per user in a circle: positive is owed, negative owes.
CREATE TABLE IF NOT EXISTS group_net (
    group_key TEXT NOT NULL,
    currency  TEXT NOT NULL,
    user_id   UUID NOT NULL,
    net       NUMERIC(20,2) NOT NULL,
    PRIMARY KEY (group_key, currency, user_id)
);
-- Between two friends (bills outside circles): what user_b owes user_a (negative: a owes b).
CREATE TABLE IF NOT EXISTS pair_balances (
    currency TEXT NOT NULL,
    user_a   UUID NOT NULL,
    user_b   UUID NOT NULL,
    amount   NUMERIC(20,2) NOT NULL,
    PRIMARY KEY (currency, user_a, user_b),
    CHECK (user_a < user_b)
);

-- AA collections, for lists (commands read them from their streams). Amounts in minor units.
CREATE TABLE IF NOT EXISTS collections (
    collection_id UUID PRIMARY KEY,
    organiser_id  UUID NOT NULL,
    currency      TEXT NOT NULL,
    circle_id     UUID,
    closed        BOOLEAN NOT NULL DEFAULT false,
    opened_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX IF NOT EXISTS collections_open_by_organiser ON collections (organiser_id) WHERE NOT closed;
CREATE TABLE IF NOT EXISTS collection_entries (
    collection_id UUID NOT NULL,
    user_id       UUID NOT NULL,
    position      INT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    paid          BOOLEAN NOT NULL DEFAULT false,
    reminders     INT NOT NULL DEFAULT 0,
    PRIMARY KEY (collection_id, user_id)
);
CREATE INDEX IF NOT EXISTS collection_entries_of_user ON collection_entries (user_id);

CREATE TABLE IF NOT EXISTS charity_campaigns (
    campaign_id    UUID PRIMARY KEY,
    organiser_id   UUID NOT NULL,
    title          TEXT NOT NULL,
    description    TEXT NOT NULL,
    currency       TEXT NOT NULL,
    goal           TEXT NOT NULL,
    raised         NUMERIC(20,2) NOT NULL DEFAULT 0,
    donor_count    BIGINT NOT NULL DEFAULT 0,
    donation_count BIGINT NOT NULL DEFAULT 0,
    created_at     TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS charity_donors (
    campaign_id UUID NOT NULL,
    donor_id    UUID NOT NULL,
    PRIMARY KEY (campaign_id, donor_id)
);
"#;

/// Balances, statements, holds, provider requests, bills, collections, group balances and
/// campaigns.
pub struct PaymentsProjection;

impl Projection for PaymentsProjection {
    fn name(&self) -> &'static str {
        "payments"
    }

    fn schema(&self) -> &'static str {
        SCHEMA
    }

    fn apply<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        event: &'a RecordedEvent,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        async move {
            match event.stream_type.as_str() {
                Journal::STREAM_TYPE => {
                    let JournalEvent::Posted(e) = decode_event(event)?;
                    apply_journal(conn, &e, event).await
                }
                Hold::STREAM_TYPE => apply_hold(conn, event).await,
                TopUp::STREAM_TYPE => match decode_event::<TopUpEvent>(event)? {
                    TopUpEvent::Requested(e) => {
                        insert_request(conn, &e.top_up_id, "top_up", &e.user_id, &e.amount, &e.currency, event.occurred_at).await
                    }
                    TopUpEvent::Completed(e) => settle_request(conn, &e.top_up_id, "completed", "").await,
                    TopUpEvent::Failed(e) => settle_request(conn, &e.top_up_id, "failed", &e.reason).await,
                },
                Withdrawal::STREAM_TYPE => match decode_event::<WithdrawalEvent>(event)? {
                    WithdrawalEvent::Requested(e) => {
                        insert_request(conn, &e.withdrawal_id, "withdrawal", &e.user_id, &e.amount, &e.currency, event.occurred_at)
                            .await
                    }
                    WithdrawalEvent::Completed(e) => settle_request(conn, &e.withdrawal_id, "completed", "").await,
                    WithdrawalEvent::Failed(e) => settle_request(conn, &e.withdrawal_id, "failed", &e.reason).await,
                },
                AaBill::STREAM_TYPE => {
                    let BillEvent::Recorded(e) = decode_event(event)?;
                    apply_bill(conn, e, event.occurred_at).await
                }
                CharityCampaign::STREAM_TYPE => {
                    let CharityEvent::Created(e) = decode_event(event)?;
                    sqlx::query(
                        "INSERT INTO charity_campaigns (campaign_id, organiser_id, title, description, currency, goal, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(stored_uuid(&e.campaign_id)?)
                    .bind(stored_uuid(&e.organiser_id)?)
                    .bind(&e.title)
                    .bind(&e.description)
                    .bind(&e.currency)
                    .bind(&e.goal)
                    .bind(event.occurred_at)
                    .execute(conn)
                    .await?;
                    Ok(())
                }
                Collection::STREAM_TYPE => apply_collection(conn, decode_event(event)?, event.occurred_at).await,
                _ => Ok(()),
            }
        }
        .boxed()
    }
}

fn opt_uuid(s: &str) -> Result<Option<Uuid>, StoreError> {
    if s.is_empty() { Ok(None) } else { stored_uuid(s).map(Some) }
}

fn dec(s: &str) -> Result<Decimal, StoreError> {
    Decimal::from_str_exact(s).map_err(|e| StoreError::Decode(format!("bad amount {s}: {e}")))
}

async fn apply_journal(
    conn: &mut PgConnection,
    e: &pb::JournalEntryPosted,
    event: &RecordedEvent,
) -> Result<(), StoreError> {
    let entry_id = stored_uuid(&e.entry_id)?;
    let from = opt_uuid(&e.from_user_id)?;
    let to = opt_uuid(&e.to_user_id)?;
    let mut order: Vec<usize> = (0..e.postings.len()).collect();
    order.sort_by(|a, b| {
        (&e.postings[*a].account, &e.postings[*a].currency).cmp(&(&e.postings[*b].account, &e.postings[*b].currency))
    });
    for i in order {
        let p = &e.postings[i];
        let amount = dec(&p.amount)?;
        // UPDATE first: an INSERT .. ON CONFLICT would check the constraint against the bare
        // (negative) delta before finding the existing row.
        let updated =
            sqlx::query("UPDATE account_balances SET balance = balance + $3 WHERE account = $1 AND currency = $2")
                .bind(&p.account)
                .bind(&p.currency)
                .bind(amount)
                .execute(&mut *conn)
                .await?
                .rows_affected();
        if updated == 0 {
            sqlx::query(
                "INSERT INTO account_balances (account, currency, balance) VALUES ($1, $2, $3) \
                 ON CONFLICT (account, currency) DO UPDATE SET balance = account_balances.balance + EXCLUDED.balance",
            )
            .bind(&p.account)
            .bind(&p.currency)
            .bind(amount)
            .execute(&mut *conn)
            .await?;
        }
        // The other side of a user-to-user payment, seen from this wallet.
        let me = p.account.strip_prefix("wallet:").and_then(|u| Uuid::parse_str(u).ok());
        let counterparty = match me {
            Some(me) if Some(me) == from => to,
            Some(me) if Some(me) == to => from,
            _ => None,
        };
        sqlx::query(
            "INSERT INTO ledger_postings (position, idx, entry_id, kind, account, currency, amount, memo, reference_id, counterparty, posted_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(event.global_position)
        .bind(i as i32)
        .bind(entry_id)
        .bind(&e.kind)
        .bind(&p.account)
        .bind(&p.currency)
        .bind(amount)
        .bind(&e.memo)
        .bind(&e.reference_id)
        .bind(counterparty)
        .bind(event.occurred_at)
        .execute(&mut *conn)
        .await?;
    }
    if e.kind == "donation" {
        apply_donation(conn, e).await?;
    }
    if !e.group_key.is_empty() {
        // Every wallet credited was paid by `from`: that settles group debt.
        let payer = from.ok_or_else(|| StoreError::Decode("group payment without a payer".into()))?;
        for p in &e.postings {
            let amount = dec(&p.amount)?;
            if let Some(payee) = p.account.strip_prefix("wallet:").map(stored_uuid).transpose()?
                && amount > Decimal::ZERO
            {
                group_payment(conn, &e.group_key, &p.currency, payer, payee, amount).await?;
            }
        }
    }
    Ok(())
}

async fn apply_donation(conn: &mut PgConnection, e: &pb::JournalEntryPosted) -> Result<(), StoreError> {
    let campaign = stored_uuid(&e.reference_id)?;
    let donor = stored_uuid(&e.initiator_id)?;
    let amount = e
        .postings
        .iter()
        .find(|p| p.account.starts_with("charity:"))
        .map(|p| dec(&p.amount))
        .transpose()?
        .unwrap_or_default();
    let new_donor =
        sqlx::query("INSERT INTO charity_donors (campaign_id, donor_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(campaign)
            .bind(donor)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    sqlx::query(
        "UPDATE charity_campaigns SET raised = raised + $2, donation_count = donation_count + 1, \
         donor_count = donor_count + $3 WHERE campaign_id = $1",
    )
    .bind(campaign)
    .bind(amount)
    .bind(new_donor as i64)
    .execute(conn)
    .await?;
    Ok(())
}

/// `payer` paid `payee` `amount` towards what they owe in the group.
async fn group_payment(
    conn: &mut PgConnection,
    group: &str,
    currency: &str,
    payer: Uuid,
    payee: Uuid,
    amount: Decimal,
) -> Result<(), StoreError> {
    if group.starts_with("circle:") {
        add_net(conn, group, currency, payer, amount).await?;
        add_net(conn, group, currency, payee, -amount).await
    } else {
        // Paying a friend is the same as the friend now owing you that much.
        add_debt(conn, currency, payee, payer, amount).await
    }
}

async fn add_net(
    conn: &mut PgConnection,
    group: &str,
    currency: &str,
    user: Uuid,
    delta: Decimal,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO group_net (group_key, currency, user_id, net) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (group_key, currency, user_id) DO UPDATE SET net = group_net.net + EXCLUDED.net",
    )
    .bind(group)
    .bind(currency)
    .bind(user)
    .bind(delta)
    .execute(conn)
    .await?;
    Ok(())
}

/// `debtor` owes `creditor` `amount` more.
async fn add_debt(
    conn: &mut PgConnection,
    currency: &str,
    debtor: Uuid,
    creditor: Uuid,
    amount: Decimal,
) -> Result<(), StoreError> {
    let (a, b, delta) = if creditor < debtor { (creditor, debtor, amount) } else { (debtor, creditor, -amount) };
    sqlx::query(
        "INSERT INTO pair_balances (currency, user_a, user_b, amount) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (currency, user_a, user_b) DO UPDATE SET amount = pair_balances.amount + EXCLUDED.amount",
    )
    .bind(currency)
    .bind(a)
    .bind(b)
    .bind(delta)
    .execute(conn)
    .await?;
    Ok(())
}

async fn apply_collection(conn: &mut PgConnection, e: CollectionEvent, at: DateTime<Utc>) -> Result<(), StoreError> {
    match e {
        CollectionEvent::Opened(e) => {
            let c = Collection::from_history(&[CollectionEvent::Opened(e)]);
            sqlx::query(
                "INSERT INTO collections (collection_id, organiser_id, currency, circle_id, opened_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(c.collection_id)
            .bind(c.organiser)
            .bind(c.currency().code())
            .bind(c.circle)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            let amounts: Vec<i64> = c.order.iter().map(|u| c.requested.get(u).map_or(0, |r| r.amount)).collect();
            sqlx::query(
                "INSERT INTO collection_entries (collection_id, user_id, position, amount_minor) \
                 SELECT $1, u, p, a FROM UNNEST($2::uuid[], $3::int8[]) WITH ORDINALITY AS x (u, a, p)",
            )
            .bind(c.collection_id)
            .bind(&c.order)
            .bind(&amounts)
            .execute(&mut *conn)
            .await?;
        }
        CollectionEvent::Paid(e) => {
            sqlx::query("UPDATE collection_entries SET paid = true WHERE collection_id = $1 AND user_id = $2")
                .bind(stored_uuid(&e.collection_id)?)
                .bind(stored_uuid(&e.participant_id)?)
                .execute(&mut *conn)
                .await?;
        }
        CollectionEvent::Reminded(e) => {
            let reminded = e.reminded_user_ids.iter().map(|u| stored_uuid(u)).collect::<Result<Vec<_>, _>>()?;
            sqlx::query(
                "UPDATE collection_entries SET reminders = reminders + 1 WHERE collection_id = $1 AND user_id = ANY($2)",
            )
            .bind(stored_uuid(&e.collection_id)?)
            .bind(&reminded)
            .execute(&mut *conn)
            .await?;
        }
        CollectionEvent::Closed(e) => {
            sqlx::query("UPDATE collections SET closed = true WHERE collection_id = $1")
                .bind(stored_uuid(&e.collection_id)?)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(())
}

async fn apply_bill(conn: &mut PgConnection, e: pb::BillRecorded, at: DateTime<Utc>) -> Result<(), StoreError> {
    let bill = AaBill::from_history(&[BillEvent::Recorded(e.clone())]);
    let circle = bill.circle;
    sqlx::query("INSERT INTO bills (bill_id, circle_id, created_at, recorded) VALUES ($1, $2, $3, $4)")
        .bind(bill.bill_id)
        .bind(circle)
        .bind(at)
        .bind(e.encode_to_vec())
        .execute(&mut *conn)
        .await?;
    let mut members: Vec<Uuid> = std::iter::once(bill.creator)
        .chain(bill.payers.iter().map(|(u, _)| *u))
        .chain(bill.parts.iter().map(|(u, _)| *u))
        .collect();
    members.sort();
    members.dedup();
    sqlx::query(
        "INSERT INTO bill_members (user_id, bill_id, circle_id, created_at) SELECT u, $2, $3, $4 FROM UNNEST($1::uuid[]) AS u",
    )
    .bind(&members)
    .bind(bill.bill_id)
    .bind(circle)
    .bind(at)
    .execute(&mut *conn)
    .await?;

    let currency = bill.currency();
    let scale = currency.minor_unit();
    let nets: Vec<NetEffect> = members
        .iter()
        .map(|u| {
            let paid: i64 = bill.payers.iter().filter(|(p, _)| p == u).map(|(_, m)| m).sum();
            let owed: i64 = bill.parts.iter().filter(|(p, _)| p == u).map(|(_, m)| m).sum();
            NetEffect { user: *u, amount: Decimal::new(paid - owed, scale) }
        })
        .collect();
    let code = currency.code();
    match circle {
        Some(_) => {
            let group = group_key(circle);
            for n in nets.iter().filter(|n| !n.amount.is_zero()) {
                add_net(conn, &group, code, n.user, n.amount).await?;
            }
        }
        None => {
            // Between friends: who owes whom on this bill, as the fewest pairwise debts.
            let net = NetBalances::new(currency, nets).map_err(|e| StoreError::Decode(e.to_string()))?;
            for t in simplify(&net).transfers {
                add_debt(conn, code, t.from, t.to, t.amount.amount()).await?;
            }
        }
    }
    Ok(())
}

async fn apply_hold(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), StoreError> {
    let hold_event: HoldEvent = decode_event(event)?;
    let hold_id = match &hold_event {
        HoldEvent::Placed(e) => stored_uuid(&e.hold_id)?,
        HoldEvent::Rejected(e) => stored_uuid(&e.hold_id)?,
        HoldEvent::Captured(e) => stored_uuid(&e.hold_id)?,
        HoldEvent::Released(e) => stored_uuid(&e.hold_id)?,
    };
    // The hold's state is folded from its stream, then written whole.
    let mut hold = load_hold_row(conn, hold_id).await?;
    hold.apply(&hold_event);
    let money = |m: i64| Decimal::new(m, hold.currency.unwrap_or(Currency::CNY).minor_unit());
    let expires_at =
        (hold.expires_at_micros != 0).then(|| DateTime::from_timestamp_micros(hold.expires_at_micros)).flatten();
    sqlx::query(
        "INSERT INTO holds (hold_id, user_id, merchant_id, currency, amount, captured, remaining, status, campaign_id, team_id, expires_at, rejection_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (hold_id) DO UPDATE SET captured = $6, remaining = $7, status = $8",
    )
    .bind(hold_id)
    .bind(hold.user)
    .bind(hold.merchant)
    .bind(hold.currency.unwrap_or(Currency::CNY).code())
    .bind(money(hold.amount))
    .bind(money(hold.captured))
    .bind(money(hold.remaining))
    .bind(hold.status.as_str())
    .bind(&hold.campaign_id)
    .bind(&hold.team_id)
    .bind(expires_at)
    .bind(&hold.rejection_reason)
    .execute(conn)
    .await?;
    Ok(())
}

/// The hold as its row says (default when there is none yet).
async fn load_hold_row(conn: &mut PgConnection, hold_id: Uuid) -> Result<Hold, StoreError> {
    let row: Option<HoldRow> = sqlx::query_as(
        "SELECT hold_id, user_id, merchant_id, currency, amount, captured, remaining, status, campaign_id, team_id, expires_at, rejection_reason \
         FROM holds WHERE hold_id = $1",
    )
    .bind(hold_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(HoldRow {
        user_id: user,
        merchant_id: merchant,
        currency,
        amount,
        captured,
        remaining,
        status,
        campaign_id,
        team_id,
        expires_at,
        rejection_reason,
        ..
    }) = row
    else {
        return Ok(Hold::default());
    };
    let currency = Currency::parse(&currency).ok();
    let to_minor = |d: Decimal| -> i64 {
        let scale = currency.unwrap_or(Currency::CNY).minor_unit();
        let mut d = d;
        d.rescale(scale);
        d.mantissa() as i64
    };
    Ok(Hold {
        status: match status.as_str() {
            "placed" => HoldStatus::Placed,
            "captured" => HoldStatus::Captured,
            "released" => HoldStatus::Released,
            "expired" => HoldStatus::Expired,
            "rejected" => HoldStatus::Rejected,
            _ => HoldStatus::New,
        },
        hold_id,
        user,
        merchant,
        currency,
        amount: to_minor(amount),
        captured: to_minor(captured),
        remaining: to_minor(remaining),
        campaign_id,
        team_id,
        expires_at_micros: expires_at.map(|t| t.timestamp_micros()).unwrap_or_default(),
        rejection_reason,
    })
}

async fn insert_request(
    conn: &mut PgConnection,
    id: &str,
    kind: &str,
    user: &str,
    amount: &str,
    currency: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO provider_requests (request_id, kind, user_id, amount, currency, status, requested_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6)",
    )
    .bind(stored_uuid(id)?)
    .bind(kind)
    .bind(stored_uuid(user)?)
    .bind(dec(amount)?)
    .bind(currency)
    .bind(at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn settle_request(conn: &mut PgConnection, id: &str, status: &str, reason: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE provider_requests SET status = $2, failure_reason = $3 WHERE request_id = $1")
        .bind(stored_uuid(id)?)
        .bind(status)
        .bind(reason)
        .execute(conn)
        .await?;
    Ok(())
}
