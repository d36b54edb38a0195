//! Cursor paging, the same in every list call.

use tuan_proto::common::v1::PageRequest;

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
