//! How answers are printed: tables and sentences for people, JSON for scripts.

use serde_json::{Value, json};
use tuan_proto::{
    admin::v1::{self as admin},
    users::v1::{self as us},
};

pub(crate) fn when(micros: i64) -> String {
    if micros == 0 {
        return "-".into();
    }
    chrono::DateTime::from_timestamp_micros(micros).map(|t| t.to_rfc3339()).unwrap_or_else(|| micros.to_string())
}

pub(crate) fn print_json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// Prints rows under a header, columns padded to their widest cell.
pub(crate) fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}

pub(crate) fn merchant_status(s: i32) -> &'static str {
    match us::MerchantStatus::try_from(s).unwrap_or_default() {
        us::MerchantStatus::Unspecified | us::MerchantStatus::None => "none",
        us::MerchantStatus::Pending => "pending",
        us::MerchantStatus::Verified => "verified",
        us::MerchantStatus::Rejected => "rejected",
    }
}

pub(crate) fn application_json(a: &us::MerchantApplication) -> Value {
    json!({
        "user_id": a.user_id, "business_name": a.business_name, "license_number": a.license_number,
        "contact_phone": a.contact_phone_e164, "category": a.category, "status": merchant_status(a.status),
        "rejection_reason": a.rejection_reason, "applied_at": when(a.applied_at_micros),
        "decided_at": when(a.decided_at_micros), "decided_by": a.decided_by,
    })
}

pub(crate) fn letter_json(l: &admin::DeadLetter) -> Value {
    json!({
        "id": l.id, "consumer": l.consumer, "topic": l.topic, "partition": l.partition, "offset": l.offset,
        "event_type": l.event_type, "event_id": l.event_id, "reason": l.reason, "attempts": l.attempts,
        "failed_at": when(l.failed_at_micros),
        "redriven_at": if l.redriven_at_micros == 0 { Value::Null } else { json!(when(l.redriven_at_micros)) },
    })
}
