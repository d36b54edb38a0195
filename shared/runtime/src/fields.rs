//! Parsers of request fields, for the handlers of every service: a field that does not parse
//! is refused with `INVALID_ARGUMENT`, naming the field. (`grpc` re-exports them, where the
//! handlers have always found them.)

use tuan_eventstore::idempotency::IdempotencyKey;
use uuid::Uuid;

use crate::ApiError;

/// Parses a UUID request field (surrounding blanks allowed), naming the field in the error.
/// The UUID itself is parsed as in stored events ([`tuan_eventstore::stored_uuid`]).
pub fn parse_uuid(field: &str, value: &str) -> Result<Uuid, ApiError> {
    tuan_eventstore::stored_uuid(value.trim())
        .map_err(|_| ApiError::invalid(format!("{field} must be a UUID, got {value:?}")))
}

/// The idempotency key of a command `request` (`operation` is the RPC's name; `clear` empties
/// the key field so the request's hash covers what it asks, not the key).
pub fn idempotency_key<M: prost::Message + Clone>(
    operation: &str,
    request: &M,
    key: &str,
    clear: impl FnOnce(&mut M),
) -> Result<IdempotencyKey, ApiError> {
    IdempotencyKey::of(operation, request, key, clear).map_err(ApiError::from)
}

/// Parses a repeated UUID request field of at most `max` ids (a batch read's bound), each
/// once, in the order given.
pub fn parse_uuids(field: &str, values: &[String], max: usize) -> Result<Vec<Uuid>, ApiError> {
    if values.len() > max {
        return Err(ApiError::invalid(format!("{field} may name at most {max} ids, got {}", values.len())));
    }
    let mut ids: Vec<Uuid> = Vec::with_capacity(values.len());
    for value in values {
        let id = parse_uuid(field, value)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// A count a request may set: 0 means `default`, above `max` is refused.
pub fn count_or(field: &str, value: u32, default: u32, max: u32) -> Result<u32, ApiError> {
    match value {
        0 => Ok(default),
        n if n > max => Err(ApiError::invalid(format!("{field} must be at most {max}, got {n}"))),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_of_ids_are_bounded_parsed_and_distinct() {
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let given = [a, b, a].map(|id| id.to_string()).to_vec();
        assert_eq!(parse_uuids("ids", &given, 3).unwrap(), vec![a, b]);
        assert!(parse_uuids("ids", &given, 2).unwrap_err().to_string().contains("at most 2"));
        assert!(parse_uuids("ids", &["x".to_string()], 2).is_err());
        assert!(parse_uuids("ids", &[], 2).unwrap().is_empty());
    }

    #[test]
    fn counts_default_and_are_bounded() {
        assert_eq!(count_or("n", 0, 10, 20).unwrap(), 10);
        assert_eq!(count_or("n", 20, 10, 20).unwrap(), 20);
        assert!(count_or("n", 21, 10, 20).is_err());
    }
}
