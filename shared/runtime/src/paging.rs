//! Cursor paging, the same in every list call.

use chrono::{DateTime, Datelike as _, Utc};
use tuan_proto::common::v1::PageRequest;
use uuid::Uuid;

use crate::ApiError;

pub const DEFAULT_PAGE: u32 = 50;
pub const MAX_PAGE: u32 = 200;

/// A parsed page request: a bounded limit and the opaque cursor from the previous page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub cursor: Option<String>,
}

impl Page {
    /// Limit 0 (unset) means the default; above [`MAX_PAGE`] is refused.
    pub fn parse(request: Option<&PageRequest>) -> Result<Self, ApiError> {
        let (limit, cursor) = request.map(|p| (p.limit, p.cursor.trim())).unwrap_or((0, ""));
        if limit > MAX_PAGE {
            return Err(ApiError::invalid(format!("page limit must be at most {MAX_PAGE}")));
        }
        Ok(Self {
            limit: if limit == 0 { DEFAULT_PAGE } else { limit },
            cursor: (!cursor.is_empty()).then(|| cursor.to_string()),
        })
    }

    /// Fetch one more than the limit to know whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.limit) + 1
    }

    /// Trims `rows` to the page and returns the cursor of the next page ("" on the last).
    pub fn finish<T>(&self, rows: &mut Vec<T>, cursor_of: impl Fn(&T) -> String) -> String {
        if rows.len() > self.limit as usize {
            rows.truncate(self.limit as usize);
            rows.last().map(cursor_of).unwrap_or_default()
        } else {
            String::new()
        }
    }
}

/// An `INVALID_ARGUMENT` for a cursor that did not come from us.
pub fn bad_cursor() -> ApiError {
    ApiError::invalid("page cursor is not valid")
}

/// `<micros>_<uuid>`: the cursor of a list ordered by time, then id.
pub fn time_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    format!("{}_{id}", at.timestamp_micros())
}

/// Parses a [`time_cursor`]. Times outside the years 1 to 9999 are refused like any other
/// garbage: no row has them, and Postgres cannot even compare with years before 4713 BC (a
/// query bound to one failed as an internal error).
pub fn parse_time_cursor(cursor: &str) -> Result<(DateTime<Utc>, Uuid), ApiError> {
    let (micros, id) = cursor.split_once('_').ok_or_else(bad_cursor)?;
    let at = micros
        .parse::<i64>()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .filter(|at| (1..=9999).contains(&at.year()))
        .ok_or_else(bad_cursor)?;
    Ok((at, Uuid::parse_str(id).map_err(|_| bad_cursor())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_cursors_round_trip_and_garbage_is_refused() {
        let (at, id) = (DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(), Uuid::now_v7());
        assert_eq!(parse_time_cursor(&time_cursor(at, id)).unwrap(), (at, id));
        for bad in [
            "",
            "_",
            "garbage",
            "123",
            "123_not-a-uuid",
            "-366474191269829387_01a231ed-3bea-756b-9c6c-d7e37330e7d0",
            "-9223372036854775808_01a231ed-3bea-756b-9c6c-d7e37330e7d0",
            "9223372036854775807_01a231ed-3bea-756b-9c6c-d7e37330e7d0",
            "99999999999999999999_01a231ed-3bea-756b-9c6c-d7e37330e7d0",
        ] {
            assert!(parse_time_cursor(bad).is_err(), "{bad:?}");
        }
    }
}
