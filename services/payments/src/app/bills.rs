//! AA bills, collections, group balances and settling up.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use prost::Message as _;
use rust_decimal::Decimal;
use sqlx::PgConnection;
use tuan_eventstore::{Aggregate as _, EventMeta};
use tuan_proto::payments::v1 as pb;
use tuan_runtime::{ApiError, auth::Caller};
use uuid::Uuid;

use super::{PaymentsApp, command_error, wallet::require_friend};
use crate::{
    domain::{
        Bill, Currency, JournalEntry, Money, NetBalances, NetEffect, PaymentError, SettlementMethod, SplitMethod,
        bill::{
            AaBill, BillError, Collection, CollectionCommand, RecordBill, Requested, Title, group_key, method_name,
        },
        events as ev,
        journal::{EntryKind, PostEntry},
        simplify,
    },
    store::{idempotency::IdempotencyKey, membership, queries},
};

/// Refuses a new bill in `circle` unless the creator and all `others` are its members and the
/// circle still exists: members split bills whether or not they are friends.
async fn require_members(
    conn: &mut PgConnection,
    circle: Uuid,
    creator: Uuid,
    others: &[Uuid],
) -> Result<(), ApiError> {
    let people: Vec<Uuid> = [creator].into_iter().chain(others.iter().copied()).collect();
    let (dissolved, outsiders) = membership::outsiders(conn, circle, &people).await?;
    match outsiders.first() {
        Some(u) if *u == creator => {
            Err(PaymentError::Forbidden(format!("you are not a member of circle {circle}")).into())
        }
        Some(u) => Err(PaymentError::Forbidden(format!("user {u} is not a member of circle {circle}")).into()),
        None if dissolved => {
            Err(PaymentError::StateConflict(format!("circle {circle} was dissolved: it takes no new bills")).into())
        }
        None => Ok(()),
    }
}

/// Refuses unless `user` may see and settle `circle`'s money (`membership::may_settle_in`).
async fn require_circle_access(conn: &mut PgConnection, circle: Uuid, user: Uuid) -> Result<(), ApiError> {
    if membership::may_settle_in(conn, circle, &group_key(Some(circle)), user).await? {
        Ok(())
    } else {
        Err(PaymentError::Forbidden(format!("you are not a member of circle {circle}")).into())
    }
}

/// A bill as the caller asked for it, parsed.
#[derive(Clone, Debug)]
pub struct NewBill {
    pub title: Title,
    pub total: Money,
    pub payers: Vec<(Uuid, Money)>,
    pub participants: Vec<Uuid>,
    pub method: SplitMethod,
    pub circle: Option<Uuid>,
}

/// An open collection as its organiser or a participant sees it, and when it was opened.
#[derive(Clone, Debug)]
pub struct MyOpenCollection {
    pub opened_at: DateTime<Utc>,
    pub collection_id: Uuid,
    pub view: pb::MyOpenCollection,
}

/// Whose balances: a circle's, or the caller's with one friend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Circle(Uuid),
    Friend(Uuid),
}

fn split_method(name: &str) -> pb::SplitMethod {
    match name {
        "equal" => pb::SplitMethod::Equal,
        "exact" => pb::SplitMethod::Exact,
        "percent" => pb::SplitMethod::Percent,
        "shares" => pb::SplitMethod::Shares,
        _ => pb::SplitMethod::Unspecified,
    }
}

pub fn bill_view(b: &ev::BillRecorded, created_at: DateTime<Utc>) -> pb::Bill {
    pb::Bill {
        bill_id: b.bill_id.clone(),
        creator_id: b.creator_id.clone(),
        title: b.title.clone(),
        total: b.total.clone(),
        currency: b.currency.clone(),
        split_method: split_method(&b.split_method) as i32,
        payers: b.payers.iter().map(|p| pb::Payer { user_id: p.user_id.clone(), amount: p.amount.clone() }).collect(),
        parts: b.parts.iter().map(|p| pb::BillPart { user_id: p.user_id.clone(), amount: p.amount.clone() }).collect(),
        circle_id: b.circle_id.clone(),
        created_at_micros: created_at.timestamp_micros(),
    }
}

pub fn collection_view(c: &Collection) -> pb::Collection {
    let currency = c.currency();
    let money = |m: i64| Decimal::new(m, currency.minor_unit()).to_string();
    let entries: Vec<pb::CollectionEntry> = c
        .order
        .iter()
        .filter_map(|u| c.requested.get(u).map(|r| (u, r)))
        .map(|(u, r)| pb::CollectionEntry {
            user_id: u.to_string(),
            amount: money(r.amount),
            paid: r.paid,
            reminders: r.reminders,
        })
        .collect();
    let requested: i64 = c.requested.values().map(|r| r.amount).sum();
    let paid: i64 = c.requested.values().filter(|r| r.paid).map(|r| r.amount).sum();
    pb::Collection {
        collection_id: c.collection_id.to_string(),
        bill_id: c.collection_id.to_string(),
        organiser_id: c.organiser.to_string(),
        currency: currency.code().to_string(),
        closed: c.closed,
        entries,
        requested_total: money(requested),
        paid_total: money(paid),
    }
}

fn method_view(method: SettlementMethod) -> pb::SettlementMethod {
    match method {
        SettlementMethod::Exact => pb::SettlementMethod::Exact,
        SettlementMethod::Greedy => pb::SettlementMethod::Greedy,
    }
}

fn transfer_view(t: &crate::domain::Transfer) -> pb::PlannedTransfer {
    pb::PlannedTransfer {
        from_user_id: t.from.to_string(),
        to_user_id: t.to.to_string(),
        amount: t.amount.amount().to_string(),
        currency: t.amount.currency().code().to_string(),
    }
}

impl PaymentsApp {
    /// Records a bill among the caller's friends, or among the members of a circle. Without a
    /// circle every other payer and participant must be the caller's friend; in a circle
    /// everyone (the caller too) must be a member of it, friends or not, and the circle not
    /// dissolved. Either way no two of them may have blocked one another.
    pub async fn create_bill(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        new: NewBill,
        key: &IdempotencyKey,
    ) -> Result<pb::Bill, ApiError> {
        let payers = if new.payers.is_empty() { vec![(caller.user_id, new.total)] } else { new.payers.clone() };
        let bill =
            Bill::new(new.total, payers, new.participants.clone(), new.method.clone()).map_err(ApiError::from)?;
        let me = caller.user_id;
        let takes_part = bill.payers().iter().any(|(u, _)| *u == me) || new.participants.contains(&me);
        if !takes_part {
            return Err(PaymentError::Forbidden("you can only record bills you paid or take part in".into()).into());
        }
        let record = RecordBill {
            bill_id: Uuid::now_v7(),
            creator: me,
            title: new.title.clone(),
            circle: new.circle,
            method: method_name(&new.method),
            bill,
        };
        tuan_eventstore::once!(&self.pool, me, key, |conn| self.record_bill(conn, meta, record.clone()))
    }

    async fn record_bill(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        record: RecordBill,
    ) -> Result<pb::Bill, ApiError> {
        let mut others: Vec<Uuid> = record
            .bill
            .payers()
            .iter()
            .map(|(u, _)| *u)
            .chain(record.bill.split().parts().iter().map(|p| p.user))
            .filter(|u| *u != record.creator)
            .collect();
        others.sort();
        others.dedup();
        match record.circle {
            Some(circle) => require_members(conn, circle, record.creator, &others).await?,
            None => {
                for other in &others {
                    require_friend(conn, record.creator, *other).await?;
                }
            }
        }
        let everyone: Vec<Uuid> = others.iter().copied().chain([record.creator]).collect();
        if let Some((blocker, blocked)) = membership::blocked_pair(conn, &everyone).await? {
            return Err(PaymentError::Forbidden(format!(
                "users {blocker} and {blocked} cannot split a bill: one blocked the other"
            ))
            .into());
        }
        // The recorded event, not only the decided one: the reply shows the time it was stored at.
        let (_, recorded) = self
            .bills
            .execute_in(conn, &record.bill_id.to_string(), meta, |b| b.handle(record.clone()))
            .await
            .map_err(command_error)?;
        let event = AaBill::default().handle(record).map_err(ApiError::from)?;
        let crate::domain::bill::BillEvent::Recorded(e) = &event[0];
        let at = recorded.first().map(|r| r.occurred_at).unwrap_or_else(Utc::now);
        Ok(bill_view(e, at))
    }

    /// A bill the caller takes part in.
    pub async fn bill(&self, caller: &Caller, bill_id: Uuid) -> Result<pb::Bill, ApiError> {
        let (bill, at) =
            queries::bill(&self.pool, bill_id).await?.ok_or(PaymentError::Bill(BillError::BillNotFound))?;
        let me = caller.user_id.to_string();
        let member = bill.creator_id == me || bill.payers.iter().chain(&bill.parts).any(|s| s.user_id == me);
        if !member {
            return Err(PaymentError::Bill(BillError::NotYourBill).into());
        }
        Ok(bill_view(&bill, at))
    }

    pub async fn bills(
        &self,
        caller: &Caller,
        circle: Option<Uuid>,
        after: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<pb::Bill>, ApiError> {
        let rows = queries::bills_of(&self.pool, caller.user_id, circle, after, limit).await?;
        Ok(rows.iter().map(|(b, at)| bill_view(b, *at)).collect())
    }

    /// The organiser (the bill's only payer) asks every other participant for their part; in a
    /// circle, only while they may still settle there (`membership::may_settle_in`).
    pub async fn open_collection(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        bill_id: Uuid,
    ) -> Result<pb::Collection, ApiError> {
        let id = bill_id.to_string();
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let (bill, _) = self.bills.load(&mut conn, &id).await.map_err(ApiError::from)?;
        if !bill.recorded {
            return Err(PaymentError::Bill(BillError::BillNotFound).into());
        }
        if let Some(circle) = bill.circle {
            require_circle_access(&mut conn, circle, caller.user_id).await?;
        }
        drop(conn);
        let command = CollectionCommand::Open { bill, organiser: caller.user_id };
        let (state, _) =
            self.collections.execute(&id, meta, |c| c.handle(command.clone())).await.map_err(command_error)?;
        Ok(collection_view(&state))
    }

    /// A participant pays their part from their wallet to the organiser's (in a circle, the
    /// same rule as opening the collection).
    pub async fn pay_collection(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        collection_id: Uuid,
        key: &IdempotencyKey,
    ) -> Result<pb::CollectionPaymentReceipt, ApiError> {
        let me = caller.user_id;
        tuan_eventstore::once!(&self.pool, me, key, |conn| self.pay_collection_in(conn, meta, me, collection_id))
    }

    async fn pay_collection_in(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        me: Uuid,
        collection_id: Uuid,
    ) -> Result<pb::CollectionPaymentReceipt, ApiError> {
        let entry_id = Uuid::now_v7();
        let id = collection_id.to_string();
        let (before, _) = self.collections.load(conn, &id).await.map_err(ApiError::from)?;
        let due = before.due(me).map_err(ApiError::from)?;
        if let Some(circle) = before.circle {
            require_circle_access(conn, circle, me).await?;
        }
        let command = CollectionCommand::Pay { participant: me, entry_id };
        let (state, _) = self.collections.run_in(conn, &id, meta, command).await.map_err(command_error)?;
        let entry = JournalEntry::transfer(me, state.organiser, due).map_err(ApiError::from)?;
        let mut post = PostEntry::new(EntryKind::CollectionPayment, entry)
            .initiator(me)
            .between(me, state.organiser)
            .reference(collection_id)
            .group(group_key(state.circle));
        post.entry_id = entry_id;
        self.post(conn, meta, post).await?;
        Ok(pb::CollectionPaymentReceipt {
            collection_id: id,
            entry_id: entry_id.to_string(),
            participant_id: me.to_string(),
            organiser_id: state.organiser.to_string(),
            amount: due.amount().to_string(),
            currency: due.currency().code().to_string(),
        })
    }

    pub async fn remind_collection(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        collection_id: Uuid,
    ) -> Result<pb::Collection, ApiError> {
        self.collection_command(meta, collection_id, CollectionCommand::Remind { by: caller.user_id }).await
    }

    pub async fn close_collection(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        collection_id: Uuid,
    ) -> Result<pb::Collection, ApiError> {
        self.collection_command(meta, collection_id, CollectionCommand::Close { by: caller.user_id }).await
    }

    async fn collection_command(
        &self,
        meta: &EventMeta,
        collection_id: Uuid,
        command: CollectionCommand,
    ) -> Result<pb::Collection, ApiError> {
        let (state, _) = self
            .collections
            .execute(&collection_id.to_string(), meta, |c| c.handle(command.clone()))
            .await
            .map_err(command_error)?;
        Ok(collection_view(&state))
    }

    /// The organiser's or a participant's view of who has paid.
    pub async fn collection(&self, caller: &Caller, collection_id: Uuid) -> Result<pb::Collection, ApiError> {
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        let (state, _) = self.collections.load(&mut conn, &collection_id.to_string()).await.map_err(ApiError::from)?;
        if !state.opened {
            return Err(PaymentError::Bill(BillError::CollectionNotFound).into());
        }
        if state.organiser != caller.user_id && !state.requested.contains_key(&caller.user_id) {
            return Err(PaymentError::Forbidden("this is not your collection".into()).into());
        }
        Ok(collection_view(&state))
    }

    /// The open collections the caller organises or is asked to pay in, newest first, each
    /// with its bill's title and the caller's unpaid part: what GetCollection shows them, for
    /// a page at once (two queries).
    pub async fn my_open_collections(
        &self,
        caller: &Caller,
        before: Option<(DateTime<Utc>, Uuid)>,
        limit: i64,
    ) -> Result<Vec<MyOpenCollection>, ApiError> {
        let me = caller.user_id;
        let rows = queries::open_collections_of(&self.pool, me, before, limit).await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = rows.iter().map(|r| r.collection_id).collect();
        let mut entries: HashMap<Uuid, Vec<queries::CollectionEntryRow>> = HashMap::new();
        for entry in queries::collection_entries(&self.pool, &ids).await? {
            entries.entry(entry.collection_id).or_default().push(entry);
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let mut state = Collection {
                    opened: true,
                    closed: row.closed,
                    collection_id: row.collection_id,
                    organiser: row.organiser_id,
                    currency: Currency::parse(&row.currency).ok(),
                    circle: row.circle_id,
                    ..Collection::default()
                };
                for e in entries.remove(&row.collection_id).unwrap_or_default() {
                    state.order.push(e.user_id);
                    let line = Requested { amount: e.amount_minor, paid: e.paid, reminders: e.reminders.max(0) as u32 };
                    state.requested.insert(e.user_id, line);
                }
                let collection = collection_view(&state);
                let i_owe = collection
                    .entries
                    .iter()
                    .find(|e| e.user_id == me.to_string() && !e.paid)
                    .map(|e| e.amount.clone())
                    .unwrap_or_default();
                let bill_title = row
                    .recorded
                    .and_then(|bytes| ev::BillRecorded::decode(bytes.as_slice()).ok())
                    .map(|b| b.title)
                    .unwrap_or_default();
                MyOpenCollection {
                    opened_at: row.opened_at,
                    collection_id: row.collection_id,
                    view: pb::MyOpenCollection { collection: Some(collection), bill_title, i_owe },
                }
            })
            .collect())
    }

    /// Net balances and the simplified plan per currency.
    pub async fn group_balances(&self, caller: &Caller, group: Group) -> Result<pb::GroupBalances, ApiError> {
        let mut conn = self.pool.acquire().await.map_err(ApiError::from)?;
        self.group_balances_in(&mut conn, caller.user_id, group).await
    }

    async fn group_balances_in(
        &self,
        conn: &mut PgConnection,
        me: Uuid,
        group: Group,
    ) -> Result<pb::GroupBalances, ApiError> {
        let (name, nets): (String, Vec<(Currency, Vec<NetEffect>)>) = match group {
            Group::Circle(circle) => {
                require_circle_access(conn, circle, me).await?;
                let key = group_key(Some(circle));
                let rows = queries::group_net(conn, &key).await?;
                let mut nets: Vec<(Currency, Vec<NetEffect>)> = Vec::new();
                for (currency, user, amount) in rows {
                    let currency = Currency::parse(&currency).map_err(ApiError::internal)?;
                    match nets.iter_mut().find(|(c, _)| *c == currency) {
                        Some((_, list)) => list.push(NetEffect { user, amount }),
                        None => nets.push((currency, vec![NetEffect { user, amount }])),
                    }
                }
                (key, nets)
            }
            Group::Friend(friend) => {
                if friend == me {
                    return Err(PaymentError::InvalidInput("friend_id must be another user".into()).into());
                }
                let rows = queries::pair_balance(conn, me, friend).await?;
                let nets = rows
                    .into_iter()
                    .map(|(currency, owed_to_me)| {
                        let currency = Currency::parse(&currency).map_err(ApiError::internal)?;
                        Ok((
                            currency,
                            vec![
                                NetEffect { user: me, amount: owed_to_me },
                                NetEffect { user: friend, amount: -owed_to_me },
                            ],
                        ))
                    })
                    .collect::<Result<_, ApiError>>()?;
                let (lo, hi) = if me < friend { (me, friend) } else { (friend, me) };
                (format!("friends:{lo}:{hi}"), nets)
            }
        };
        let mut currencies = Vec::new();
        for (currency, list) in nets {
            let net = NetBalances::new(currency, list).map_err(ApiError::internal)?;
            if net.is_settled() {
                continue;
            }
            let plan = simplify(&net);
            currencies.push(pb::CurrencyBalances {
                currency: currency.code().to_string(),
                balances: net
                    .iter()
                    .map(|n| pb::NetBalance { user_id: n.user.to_string(), amount: n.amount.to_string() })
                    .collect(),
                plan: plan.transfers.iter().map(transfer_view).collect(),
                method: method_view(plan.method).into(),
            });
        }
        Ok(pb::GroupBalances { group: name, currencies })
    }

    /// Pays the caller's transfers of the simplified plan in `currency`, in one journal entry.
    pub async fn settle_up(
        &self,
        meta: &EventMeta,
        caller: &Caller,
        group: Group,
        currency: Currency,
        key: &IdempotencyKey,
    ) -> Result<pb::SettleUpResponse, ApiError> {
        let me = caller.user_id;
        tuan_eventstore::once!(&self.pool, me, key, |conn| self.settle_up_in(conn, meta, me, group, currency))
    }

    async fn settle_up_in(
        &self,
        conn: &mut PgConnection,
        meta: &EventMeta,
        me: Uuid,
        group: Group,
        currency: Currency,
    ) -> Result<pb::SettleUpResponse, ApiError> {
        let key = match group {
            Group::Circle(c) => group_key(Some(c)),
            Group::Friend(_) => group_key(None),
        };
        let lock = match group {
            Group::Circle(_) => key.clone(),
            Group::Friend(f) => format!("friends:{}:{}", me.min(f), me.max(f)),
        };
        queries::lock_group(conn, &lock).await?;
        let balances = self.group_balances_in(conn, me, group).await?;
        let plan = balances.currencies.into_iter().find(|c| c.currency == currency.code()).unwrap_or_default();
        let mine: Vec<pb::PlannedTransfer> =
            plan.plan.into_iter().filter(|t| t.from_user_id == me.to_string()).collect();
        if mine.is_empty() {
            return Err(PaymentError::StateConflict(format!("you owe nothing in {currency} here")).into());
        }
        let payees = mine
            .iter()
            .map(|t| {
                let to = Uuid::parse_str(&t.to_user_id).map_err(ApiError::internal)?;
                let amount = Decimal::from_str_exact(&t.amount).map_err(ApiError::internal)?;
                Ok((to, Money::new(amount, currency).map_err(ApiError::from)?))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let entry = JournalEntry::payout(me, &payees).map_err(ApiError::from)?;
        let mut post = PostEntry::new(EntryKind::SettleUp, entry).initiator(me).group(key).reference(&lock);
        post.from = Some(me);
        if let [(to, _)] = payees.as_slice() {
            post.to = Some(*to);
        }
        let entry_id = post.entry_id;
        self.post(conn, meta, post).await?;
        Ok(pb::SettleUpResponse { entry_id: entry_id.to_string(), transfers: mine, method: plan.method })
    }
}
