//! Page tokens are untrusted (clients send back whatever they like): random strings give an
//! error, never a panic, and whatever parses is a position a query can use. And the fuzzer's
//! own message codec round-trips, so its templates are what the tests meant.

use chrono::Datelike as _;
use proptest::{prelude::*, test_runner::Config};
use tuan_proto::common::v1::PageRequest;
use tuan_runtime::paging::{MAX_PAGE, Page, parse_time_cursor, time_cursor};
use tuan_testkit::{
    fuzz::{Generator, Hints, Msg, cases},
    rpc::Schema,
};

fn config() -> Config {
    Config { cases: cases(512), failure_persistence: None, ..Config::default() }
}

fn cursor_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,60}",
        "-?[0-9]{1,25}_[0-9a-f-]{0,40}",
        (any::<i64>(), any::<u128>()).prop_map(|(m, id)| format!("{m}_{}", uuid::Uuid::from_u128(id))),
        prop::collection::vec(any::<char>(), 0..40).prop_map(|c| c.into_iter().collect()),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn time_cursors_parse_only_into_positions_postgres_can_use(cursor in cursor_text()) {
        if let Ok((at, id)) = parse_time_cursor(&cursor) {
            prop_assert!((1..=9999).contains(&at.year()), "{cursor:?} -> {at}");
            prop_assert_eq!(parse_time_cursor(&time_cursor(at, id)).unwrap(), (at, id));
        }
    }

    #[test]
    fn page_requests_parse_into_a_bounded_limit(limit in any::<u32>(), cursor in cursor_text()) {
        match Page::parse(Some(&PageRequest { limit, cursor: cursor.clone() })) {
            Ok(page) => {
                prop_assert!((1..=MAX_PAGE).contains(&page.limit));
                prop_assert!(page.cursor.as_deref().is_none_or(|c| !c.is_empty()));
            }
            Err(_) => prop_assert!(limit > MAX_PAGE),
        }
    }
}

#[test]
fn generated_requests_of_every_rpc_decode_back_to_themselves() {
    let schema = Schema::tuan();
    let generator = Generator::new(schema, Hints::default());
    for (rpc, method) in &schema.methods {
        let mut runner = proptest::test_runner::TestRunner::new(Config { cases: 6, ..config() });
        runner
            .run(&generator.message(method.input_type()), |message| {
                let bytes = message.encode();
                let decoded = Msg::decode(schema, method.input_type(), &bytes).expect("decodes");
                prop_assert_eq!(decoded.encode(), bytes, "{}", rpc);
                Ok(())
            })
            .unwrap();
    }
}
