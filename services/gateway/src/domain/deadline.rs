//! Deadlines: the client's `grpc-timeout`, and the budget each backend call gets from it.

use std::time::Duration;

/// Parses a `grpc-timeout` header value: at most 8 digits and a unit (H, M, S, m, u, n).
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.checked_mul(3600)?),
        "M" => Duration::from_secs(n.checked_mul(60)?),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// What one backend call may take: the smaller of what is left of the client's deadline and
/// the call's own budget.
pub fn call_budget(remaining: Duration, budget: Duration) -> Duration {
    remaining.min(budget)
}

/// How long a whole request may take: the client's timeout (less a margin to answer in),
/// capped by our own limit for this kind of call.
pub fn request_budget(client_timeout: Option<Duration>, cap: Duration, margin: Duration) -> Duration {
    match client_timeout {
        Some(t) => t.saturating_sub(margin).min(cap),
        None => cap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_refuses_garbage() {
        assert_eq!(parse_grpc_timeout("1500m"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_grpc_timeout("3M"), Some(Duration::from_secs(180)));
        assert_eq!(parse_grpc_timeout("7u"), Some(Duration::from_micros(7)));
        assert_eq!(parse_grpc_timeout("9n"), Some(Duration::from_nanos(9)));
        for bad in ["", "m", "12", "1.5S", "-1S", "123456789S", "5x"] {
            assert_eq!(parse_grpc_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn budgets_never_exceed_the_client_deadline() {
        let ms = Duration::from_millis;
        assert_eq!(call_budget(ms(300), ms(800)), ms(300));
        assert_eq!(call_budget(ms(3000), ms(800)), ms(800));
        assert_eq!(request_budget(Some(ms(1500)), ms(2500), ms(50)), ms(1450));
        assert_eq!(request_budget(Some(ms(9000)), ms(2500), ms(50)), ms(2500));
        assert_eq!(request_budget(None, ms(2500), ms(50)), ms(2500));
        assert_eq!(request_budget(Some(ms(10)), ms(2500), ms(50)), ms(0));
    }
}
