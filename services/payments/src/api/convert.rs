//! Read models to protobuf, and cursors both ways.

use chrono::{DateTime, Utc};
use tuan_proto::payments::v1 as pb;
use tuan_runtime::{ApiError, paging::bad_cursor};
use uuid::Uuid;

use crate::store::queries::PostingRow;

pub fn statement_line(p: &PostingRow) -> pb::StatementLine {
    pb::StatementLine {
        entry_id: p.entry_id.to_string(),
        kind: p.kind.clone(),
        amount: p.amount.to_string(),
        currency: p.currency.clone(),
        memo: p.memo.clone(),
        reference_id: p.reference_id.clone(),
        counterparty_id: p.counterparty.map(|c| c.to_string()).unwrap_or_default(),
        posted_at_micros: p.posted_at.timestamp_micros(),
    }
}

/// `<position>_<idx>`.
pub fn posting_cursor(p: &PostingRow) -> String {
    format!("{}_{}", p.position, p.idx)
}

pub fn parse_posting_cursor(cursor: &str) -> Result<(i64, i32), ApiError> {
    let (pos, idx) = cursor.split_once('_').ok_or_else(bad_cursor)?;
    Ok((pos.parse().map_err(|_| bad_cursor())?, idx.parse().map_err(|_| bad_cursor())?))
}

/// `<created_at micros>_<bill id>`.
pub fn bill_cursor(b: &pb::Bill) -> String {
    format!("{}_{}", b.created_at_micros, b.bill_id)
}

pub fn parse_bill_cursor(cursor: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    tuan_runtime::paging::parse_time_cursor(cursor)
}
