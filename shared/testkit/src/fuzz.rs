//! Property tests that send random and malformed requests to every RPC of a service.
//!
//! Requests are built from the protobuf descriptors, so every RPC (a new one too) is covered
//! without a strategy written by hand. Values are chosen by field type and name: strings of
//! every kind (empty, blank, unicode, NUL, huge), UUID fields from real and random ids and
//! garbage, money with too many decimals or too many digits, page cursors of every shape,
//! timestamps out of range, numbers at their limits, unknown enum values. Each call goes out
//! with a valid token (of a user, an operator, a merchant) or a bad one.
//!
//! A case fails when the server panics, answers `INTERNAL`, `UNKNOWN` (or any other code the
//! target forbids), lets a bad token through, or refuses yet changes what the snapshot reads.

use std::{
    collections::BTreeMap,
    fmt,
    sync::{
        Once,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use proptest::{
    prelude::*,
    strategy::BoxedStrategy,
    test_runner::{Config, TestCaseError, TestRunner},
};
use prost_types::field_descriptor_proto::{Label, Type};
use tonic::{Code, transport::Channel};

use crate::{
    authz,
    rpc::{Credential, Schema, call_raw},
};

/// Cases per RPC: `PROPTEST_CASES` if set, else `default`.
pub fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic in this process (a server task's included) from now on; the default
/// hook still prints them.
pub fn count_panics() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

/// Panics so far (see [`count_panics`]).
pub fn panics() -> usize {
    PANICS.load(Ordering::SeqCst)
}

/// A generated message, field by field, readable in a failure report.
#[derive(Clone)]
pub struct Msg(pub Vec<Field>);

#[derive(Clone, Debug)]
pub struct Field {
    pub name: String,
    pub number: u32,
    pub value: Value,
}

#[derive(Clone)]
pub enum Value {
    /// int32, int64, uint32, uint64, bool, enum: encoded as a varint of the two's complement.
    Int(i128),
    /// sint32, sint64.
    Sint(i64),
    Fixed32(u32),
    Fixed64(u64),
    Str(String),
    Bytes(Vec<u8>),
    Message(Msg),
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for field in &self.0 {
            map.entry(&field.name, &field.value);
        }
        map.finish()
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Int(v) => write!(f, "{v}"),
            Value::Sint(v) => write!(f, "{v}"),
            Value::Fixed32(v) => write!(f, "{v}"),
            Value::Fixed64(v) => write!(f, "{v}"),
            Value::Str(s) if s.chars().count() > 80 => {
                let head: String = s.chars().take(20).collect();
                write!(f, "{head:?}.. ({} chars)", s.chars().count())
            }
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => write!(f, "{} bytes", b.len()),
            Value::Message(m) => m.fmt(f),
        }
    }
}

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

impl Msg {
    /// The protobuf encoding (fields in generation order, repeated fields unpacked).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for field in &self.0 {
            let tag = |wire: u32| (u64::from(field.number) << 3) | u64::from(wire);
            match &field.value {
                Value::Int(v) => {
                    varint(&mut out, tag(0));
                    varint(&mut out, *v as i64 as u64);
                }
                Value::Sint(v) => {
                    varint(&mut out, tag(0));
                    varint(&mut out, ((v << 1) ^ (v >> 63)) as u64);
                }
                Value::Fixed32(v) => {
                    varint(&mut out, tag(5));
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Value::Fixed64(v) => {
                    varint(&mut out, tag(1));
                    out.extend_from_slice(&v.to_le_bytes());
                }
                Value::Str(s) => {
                    varint(&mut out, tag(2));
                    varint(&mut out, s.len() as u64);
                    out.extend_from_slice(s.as_bytes());
                }
                Value::Bytes(b) => {
                    varint(&mut out, tag(2));
                    varint(&mut out, b.len() as u64);
                    out.extend_from_slice(b);
                }
                Value::Message(m) => {
                    let inner = m.encode();
                    varint(&mut out, tag(2));
                    varint(&mut out, inner.len() as u64);
                    out.extend_from_slice(&inner);
                }
            }
        }
        out
    }
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(value);
        }
    }
    None
}

impl Msg {
    /// Reads `bytes` (an encoded `message`) back into fields, by the descriptors: the valid
    /// requests a test already has become templates to mutate. Unknown fields are dropped.
    pub fn decode(schema: &Schema, message: &str, bytes: &[u8]) -> Option<Msg> {
        let descriptor = schema.messages.get(message.trim_start_matches('.'))?;
        let mut fields = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let tag = read_varint(bytes, &mut at)?;
            let (number, wire) = ((tag >> 3) as u32, tag & 7);
            let field = descriptor.field.iter().find(|f| f.number() as u32 == number);
            let value = match wire {
                0 => {
                    let v = read_varint(bytes, &mut at)?;
                    match field.map(|f| f.r#type()) {
                        Some(Type::Sint32 | Type::Sint64) => Value::Sint(((v >> 1) as i64) ^ -((v & 1) as i64)),
                        Some(Type::Uint64) => Value::Int(i128::from(v)),
                        _ => Value::Int(i128::from(v as i64)),
                    }
                }
                1 => {
                    let raw = bytes.get(at..at + 8)?;
                    at += 8;
                    Value::Fixed64(u64::from_le_bytes(raw.try_into().ok()?))
                }
                5 => {
                    let raw = bytes.get(at..at + 4)?;
                    at += 4;
                    Value::Fixed32(u32::from_le_bytes(raw.try_into().ok()?))
                }
                2 => {
                    let len = read_varint(bytes, &mut at)? as usize;
                    let raw = bytes.get(at..at.checked_add(len)?)?;
                    at += len;
                    match field.map(|f| (f.r#type(), f.type_name())) {
                        Some((Type::String, _)) => Value::Str(String::from_utf8(raw.to_vec()).ok()?),
                        Some((Type::Message, name)) => Value::Message(Msg::decode(schema, name, raw)?),
                        _ => Value::Bytes(raw.to_vec()),
                    }
                }
                _ => return None,
            };
            if let Some(field) = field {
                fields.push(Field { name: field.name().to_string(), number, value });
            }
        }
        Some(Msg(fields))
    }

    /// This message with the fields numbered in `replaced` taken from `other` instead (absent
    /// there: absent here).
    fn splice(&self, other: &Msg, replaced: &[u32]) -> Msg {
        let kept = self.0.iter().filter(|f| !replaced.contains(&f.number));
        let taken = other.0.iter().filter(|f| replaced.contains(&f.number));
        Msg(kept.chain(taken).cloned().collect())
    }
}

/// Strings that have broken services before.
const SPECIAL_STRINGS: &[&str] = &[
    "",
    " ",
    "\t\n",
    "\u{0}",
    "a\u{0}b",
    "\u{202E}evil",
    "\u{FEFF}",
    "\u{200B}",
    "'; DROP TABLE events; --",
    "%s%n%x",
    "../../etc/passwd",
    "null",
    "NaN",
    "-NaN",
    "Infinity",
    "-0",
    "1e999",
    "0x10",
    "\\",
    "\"",
    "💥",
    "\r\n\r\n",
    "<script>alert(1)</script>",
    "9223372036854775808",
    "-9223372036854775809",
    "18446744073709551616",
];

/// What a service's fuzzing knows about its world: ids of things that exist, so requests
/// sometimes reach past "not found" into the deeper rules.
#[derive(Clone, Debug, Default)]
pub struct Hints {
    pub ids: Vec<String>,
}

fn text() -> BoxedStrategy<String> {
    prop_oneof![
        4 => "\\PC{0,24}",
        2 => "[a-zA-Z0-9 _.-]{0,24}",
        2 => prop::sample::select(SPECIAL_STRINGS).prop_map(str::to_string),
        // Fine text but for one control character (NUL included).
        2 => "[a-z ]{0,8}[\\x00-\\x1f\\x7f][a-z ]{0,8}",
        1 => (1usize..5000).prop_map(|n| "字".repeat(n)),
        1 => (1usize..200_000).prop_map(|n| "x".repeat(n)),
        1 => prop::collection::vec(any::<char>(), 0..32).prop_map(|c| c.into_iter().collect()),
    ]
    .boxed()
}

fn uuid_text(hints: &Hints) -> BoxedStrategy<String> {
    let random = any::<u128>().prop_map(|n| uuid::Uuid::from_u128(n).to_string());
    let odd = any::<u128>().prop_flat_map(|n| {
        let id = uuid::Uuid::from_u128(n);
        prop::sample::select(vec![
            id.simple().to_string(),
            id.to_string().to_uppercase(),
            format!("{{{id}}}"),
            format!("urn:uuid:{id}"),
            format!(" {id} "),
            id.to_string()[..35].to_string(),
            format!("{id}0"),
            uuid::Uuid::nil().to_string(),
            uuid::Uuid::max().to_string(),
            "not-a-uuid".to_string(),
        ])
    });
    if hints.ids.is_empty() {
        prop_oneof![3 => random, 2 => odd, 1 => text()].boxed()
    } else {
        let known = prop::sample::select(hints.ids.clone());
        prop_oneof![5 => known, 2 => random, 2 => odd, 1 => text()].boxed()
    }
}

fn money_text() -> BoxedStrategy<String> {
    prop_oneof![
        3 => "[0-9]{1,3}(\\.[0-9]{1,2})?",
        1 => "-[0-9]{1,5}(\\.[0-9]{1,2})?",
        2 => "[0-9]{1,3}\\.[0-9]{3,30}",
        1 => "[0-9]{16,40}(\\.[0-9]{0,4})?",
        2 => prop::sample::select(vec![
            "0", "0.00", "-0", "-0.01", "1e3", "+1", ".5", "5.", "1,000.00", " 1.00 ", "0.001", "1.005",
            "79228162514264337593543950335", "79228162514264337593543950336", "-79228162514264337593543950335",
            "9223372036854775807", "92233720368547758.07", "92233720368547758.08", "0.0000000000000000000000000001",
            "100", "33.33", "50", "2",
        ])
        .prop_map(str::to_string),
        1 => text(),
    ]
    .boxed()
}

fn cursor_text(hints: &Hints) -> BoxedStrategy<String> {
    prop_oneof![
        2 => text(),
        2 => "-?[0-9]{1,25}_[0-9a-f-]{0,40}",
        1 => "-?[0-9]{1,20}_-?[0-9]{1,12}",
        1 => prop::sample::select(vec!["-9223372036854775808_-2147483648", "9223372036854775807_2147483647", "_", "0_"])
            .prop_map(str::to_string),
        2 => uuid_text(hints),
        1 => any::<i64>().prop_flat_map(|n| uuid_text(&Hints::default()).prop_map(move |id| format!("{n}_{id}"))),
    ]
    .boxed()
}

fn string_for(field: &str, hints: &Hints) -> BoxedStrategy<String> {
    match field {
        "amount" | "total" | "goal" | "list_price" | "group_price" | "leader_discount" | "value" => money_text(),
        "currency" => prop_oneof![
            3 => prop::sample::select(vec!["CNY", "USD", "JPY", "EUR", "cny", " CNY ", "XXX", "CN", "CNYY", ""])
                .prop_map(str::to_string),
            1 => text(),
        ]
        .boxed(),
        "cursor" => cursor_text(hints),
        "phone" | "contact_phone" => prop_oneof![
            2 => "\\+86139[0-9]{8}",
            1 => "\\+[0-9]{1,20}",
            1 => "00[0-9]{6,18}",
            1 => "[0-9 ()+.-]{0,24}",
            1 => text(),
        ]
        .boxed(),
        "password" => prop_oneof![2 => "[a-z]{5,12}[0-9]{2,5}", 1 => text()].boxed(),
        "phone_hashes" => prop_oneof![2 => "[0-9a-f]{64}", 1 => "[0-9A-F]{64}", 1 => text()].boxed(),
        "refresh_token" => prop_oneof![
            2 => (any::<u128>(), "[0-9a-f]{64}")
                .prop_map(|(n, secret)| format!("{}.{secret}", uuid::Uuid::from_u128(n))),
            1 => "[0-9a-f-]{30,40}\\.[0-9a-f]{0,70}",
            1 => text(),
        ]
        .boxed(),
        "idempotency_key" => prop_oneof![3 => "[a-z0-9-]{1,64}", 1 => "[a-z]{65,70}", 1 => text()].boxed(),
        "avatar_url" => prop_oneof![2 => "https://[a-z]{1,10}\\.example/[a-z]{0,10}", 1 => text()].boxed(),
        name if name.ends_with("_id") || name.ends_with("_ids") => uuid_text(hints),
        _ => text(),
    }
}

fn int64_for(field: &str) -> BoxedStrategy<i64> {
    let now = chrono::Utc::now().timestamp_micros();
    let extremes = prop::sample::select(vec![0, -1, 1, i64::MIN, i64::MAX, i64::MIN + 1, i64::MAX - 1]);
    if field.ends_with("_micros") {
        let hour = 3_600_000_000i64;
        prop_oneof![
            2 => (now - 48 * hour)..(now + 48 * hour),
            1 => extremes,
            1 => any::<i64>(),
            1 => -8_334_632_851_200_000_000i64..8_210_298_412_799_999_999i64,
        ]
        .boxed()
    } else {
        prop_oneof![2 => -1000i64..1000, 1 => extremes, 1 => any::<i64>()].boxed()
    }
}

fn uint_for(bits: u32) -> BoxedStrategy<i128> {
    let max = if bits == 32 { i128::from(u32::MAX) } else { i128::from(u64::MAX) };
    prop_oneof![
        3 => 0i128..=6,
        2 => 0i128..=1000,
        1 => prop::sample::select(vec![
            max,
            max - 1,
            i128::from(i32::MAX),
            i128::from(i32::MAX) + 1,
            i128::from(i64::MAX),
            i128::from(i64::MAX) + 1,
            10_000_001,
            86_400,
            30 * 86_400 + 1,
        ])
        .prop_map(move |v| v.min(max)),
        1 => 0i128..=max,
    ]
    .boxed()
}

/// Builds request strategies from the descriptors.
pub struct Generator<'a> {
    schema: &'a Schema,
    hints: Hints,
}

/// Nested messages deeper than this are left out.
const MAX_DEPTH: u32 = 3;

impl<'a> Generator<'a> {
    pub fn new(schema: &'a Schema, hints: Hints) -> Self {
        Self { schema, hints }
    }

    /// Random instances of `message` (full name, with or without the leading dot).
    pub fn message(&self, message: &str) -> BoxedStrategy<Msg> {
        self.message_at(message.trim_start_matches('.'), 0)
    }

    /// `template` (a valid request of type `message`) with one to three of its fields, or of
    /// the fields it left unset, replaced by random values: requests that pass most checks,
    /// to reach the rules behind them.
    pub fn mutation(&self, message: &str, template: Msg) -> BoxedStrategy<Msg> {
        let name = message.trim_start_matches('.');
        let numbers: Vec<u32> = self.schema.messages[name].field.iter().map(|f| f.number() as u32).collect();
        if numbers.is_empty() {
            return Just(template).boxed();
        }
        let chosen = prop::sample::subsequence(numbers.clone(), 1..=numbers.len().clamp(1, 3));
        (self.message_at(name, 0), chosen).prop_map(move |(random, chosen)| template.splice(&random, &chosen)).boxed()
    }

    fn message_at(&self, name: &str, depth: u32) -> BoxedStrategy<Msg> {
        let descriptor = self.schema.messages.get(name).unwrap_or_else(|| panic!("no descriptor for {name}"));
        let fields: Vec<BoxedStrategy<Vec<Field>>> = descriptor
            .field
            .iter()
            .filter_map(|f| {
                let value = self.value(f, depth)?;
                let (field_name, number) = (f.name().to_string(), f.number() as u32);
                let one = value.prop_map(move |value| Field { name: field_name.clone(), number, value });
                Some(if f.label() == Label::Repeated {
                    let count = match f.r#type() {
                        Type::Message => prop_oneof![9 => 0usize..4, 1 => 95usize..110].boxed(),
                        _ => prop_oneof![9 => 0usize..5, 1 => 495usize..520].boxed(),
                    };
                    count.prop_flat_map(move |n| prop::collection::vec(one.clone(), n)).boxed()
                } else {
                    // Present four times out of five; absent means the default value.
                    prop::option::weighted(0.8, one).prop_map(|f| f.into_iter().collect()).boxed()
                })
            })
            .collect();
        fields.prop_map(|parts| Msg(parts.into_iter().flatten().collect())).boxed()
    }

    fn value(&self, f: &prost_types::FieldDescriptorProto, depth: u32) -> Option<BoxedStrategy<Value>> {
        let name = f.name();
        Some(match f.r#type() {
            Type::String => string_for(name, &self.hints).prop_map(Value::Str).boxed(),
            Type::Bytes => prop::collection::vec(any::<u8>(), 0..64).prop_map(Value::Bytes).boxed(),
            Type::Bool => prop_oneof![any::<bool>().prop_map(i128::from), Just(2i128), Just(i128::from(u64::MAX))]
                .prop_map(Value::Int)
                .boxed(),
            Type::Int64 => int64_for(name).prop_map(|v| Value::Int(v.into())).boxed(),
            Type::Int32 => prop_oneof![2 => -10i32..1000, 1 => any::<i32>()].prop_map(|v| Value::Int(v.into())).boxed(),
            Type::Uint32 => uint_for(32).prop_map(Value::Int).boxed(),
            Type::Uint64 => uint_for(64).prop_map(Value::Int).boxed(),
            Type::Sint32 | Type::Sint64 => int64_for(name).prop_map(Value::Sint).boxed(),
            Type::Fixed32 | Type::Sfixed32 | Type::Float => any::<u32>().prop_map(Value::Fixed32).boxed(),
            Type::Fixed64 | Type::Sfixed64 | Type::Double => any::<u64>().prop_map(Value::Fixed64).boxed(),
            Type::Enum => {
                let known = self.schema.enums.get(f.type_name().trim_start_matches('.')).cloned().unwrap_or_default();
                let any_value = prop_oneof![Just(-1), Just(i32::MAX), Just(i32::MIN), any::<i32>()];
                if known.is_empty() {
                    any_value.prop_map(|v| Value::Int(v.into())).boxed()
                } else {
                    prop_oneof![4 => prop::sample::select(known), 1 => any_value]
                        .prop_map(|v| Value::Int(v.into()))
                        .boxed()
                }
            }
            Type::Message if depth < MAX_DEPTH => {
                self.message_at(f.type_name().trim_start_matches('.'), depth + 1).prop_map(Value::Message).boxed()
            }
            Type::Message | Type::Group => return None,
        })
    }
}

/// A service to fuzz, as running in this test.
pub struct Target {
    pub channel: Channel,
    /// `tuan.users.v1.UsersService`.
    pub service: &'static str,
    /// Who calls: valid tokens (marked true) and bad ones (false, see
    /// `rpc::bad_credentials`). Each case picks one.
    pub callers: Vec<(&'static str, Credential, bool)>,
    pub hints: Hints,
    /// Codes that are a bug whatever the input. `INTERNAL`, `UNKNOWN` and the codes of a
    /// dropped connection or a hung call by default.
    pub forbidden: Vec<Code>,
    /// Valid requests by RPC (`package.Service/Method` -> encoded message): half the cases
    /// mutate one, when there is one.
    pub templates: std::collections::HashMap<String, Vec<u8>>,
    /// Cases per RPC.
    pub cases: u32,
}

impl Target {
    pub fn new(channel: Channel, service: &'static str) -> Self {
        Self {
            channel,
            service,
            callers: Vec::new(),
            hints: Hints::default(),
            forbidden: vec![
                Code::Internal,
                Code::Unknown,
                Code::Unavailable,
                Code::Cancelled,
                Code::DataLoss,
                Code::DeadlineExceeded,
                Code::Unimplemented,
            ],
            templates: Default::default(),
            cases: cases(64),
        }
    }
}

/// What a fuzz run did: cases per RPC and the codes they got.
#[derive(Debug, Default)]
pub struct Report {
    pub rpcs: usize,
    pub cases: usize,
    pub codes: BTreeMap<String, usize>,
    pub elapsed: Duration,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} RPCs, {} cases in {:.1?}: {:?}", self.rpcs, self.cases, self.elapsed, self.codes)
    }
}

/// Fuzzes every RPC of `target.service` (in descriptor order) on `runtime`, where the service
/// runs. `snapshot` reads whatever a refused call must leave unchanged (e.g. the number of
/// events appended by requests). Panics with the smallest failing request it finds.
pub fn run<S, F, Fut>(runtime: &tokio::runtime::Runtime, target: &Target, snapshot: F) -> Report
where
    S: PartialEq + fmt::Debug,
    F: Fn() -> Fut,
    Fut: Future<Output = S>,
{
    count_panics();
    assert!(!target.callers.is_empty(), "a fuzz target needs callers");
    let schema = Schema::tuan();
    let generator = Generator::new(schema, target.hints.clone());
    let started = Instant::now();
    let mut report = Report::default();
    // `FUZZ_RPC=Method` fuzzes only the RPCs whose path contains it (hunting one bug).
    let only = std::env::var("FUZZ_RPC").unwrap_or_default();
    let methods: Vec<_> = schema.service_methods(target.service).filter(|(rpc, _)| rpc.contains(&only)).collect();
    assert!(!methods.is_empty(), "{} has no RPCs in the descriptors", target.service);
    for (rpc, method) in methods {
        let rule = authz::rule_of(rpc).unwrap_or_else(|| panic!("{rpc} has no row in the authz matrix"));
        let input = method.input_type();
        let requests = match target.templates.get(rpc.as_str()) {
            Some(bytes) => {
                let template = Msg::decode(schema, input, bytes)
                    .unwrap_or_else(|| panic!("the template of {rpc} is not a {input}"));
                prop_oneof![generator.message(input), generator.mutation(input, template)].boxed()
            }
            None => generator.message(input),
        };
        let strategy = (requests, 0..target.callers.len());
        let config =
            Config { cases: target.cases, failure_persistence: None, max_shrink_iters: 512, ..Config::default() };
        let codes = std::cell::RefCell::new(BTreeMap::<String, usize>::new());
        let result = TestRunner::new(config).run(&strategy, |(message, who)| {
            let (caller, credential, valid) = &target.callers[who];
            let body = message.encode();
            let outcome = runtime.block_on(async {
                let before = snapshot().await;
                let panics_before = panics();
                let result = call_raw(&target.channel, rpc, credential, body, Duration::from_secs(20)).await;
                let after = snapshot().await;
                (before, after, panics() - panics_before, result)
            });
            let (before, after, new_panics, result) = outcome;
            let code = result.as_ref().err().map(|s| s.code()).unwrap_or(Code::Ok);
            *codes.borrow_mut().entry(format!("{code:?}")).or_default() += 1;
            let fail = |why: String| Err(TestCaseError::fail(format!("{rpc} as {caller}: {why}")));
            if new_panics > 0 {
                return fail(format!("the server panicked ({new_panics} panics; see stderr)"));
            }
            let needs_token = !rule.is_public();
            match result {
                Ok(_) if needs_token && !valid => fail("a bad credential got through".into()),
                Ok(_) => Ok(()),
                Err(status) => {
                    if target.forbidden.contains(&status.code()) {
                        return fail(format!("answered {:?}: {}", status.code(), status.message()));
                    }
                    if needs_token && !valid && status.code() != Code::Unauthenticated {
                        return fail(format!(
                            "a bad credential must be UNAUTHENTICATED whatever the request, got {:?}: {}",
                            status.code(),
                            status.message()
                        ));
                    }
                    if before != after {
                        return fail(format!(
                            "refused with {:?} ({}) yet changed {before:?} -> {after:?}",
                            status.code(),
                            status.message()
                        ));
                    }
                    Ok(())
                }
            }
        });
        if let Err(e) = result {
            panic!("fuzzing {rpc} failed: {e}");
        }
        report.rpcs += 1;
        for (code, n) in codes.into_inner() {
            report.cases += n;
            *report.codes.entry(code).or_default() += n;
        }
    }
    report.elapsed = started.elapsed();
    report
}

/// Templates for [`Target::templates`]: `request(method)` for every RPC of `service`.
pub fn templates(service: &str, request: impl Fn(&str) -> Vec<u8>) -> std::collections::HashMap<String, Vec<u8>> {
    Schema::tuan().service_methods(service).map(|(rpc, method)| (rpc.clone(), request(method.name()))).collect()
}
