//! The authorization matrix covers exactly the RPCs the processes serve: an RPC added to a
//! proto without a decision in `tuan_testkit::authz::MATRIX` fails here.

use std::collections::BTreeSet;

use tuan_testkit::authz::{Access, GATEWAY, MATRIX, rule_of, served_rpcs};

#[test]
fn every_served_rpc_has_an_authorization_decision() {
    let missing: Vec<String> = served_rpcs().into_iter().filter(|rpc| rule_of(rpc).is_none()).collect();
    assert!(
        missing.is_empty(),
        "RPCs without a row in tuan_testkit::authz::MATRIX (decide who may call them, then prove it in the \
         service's tests/authz.rs): {missing:#?}"
    );
}

#[test]
fn every_row_names_a_served_rpc_once() {
    let served: BTreeSet<String> = served_rpcs().into_iter().collect();
    let mut seen = BTreeSet::new();
    for rule in MATRIX {
        assert!(served.contains(rule.rpc), "{} is in the matrix but no process serves it", rule.rpc);
        assert!(seen.insert(rule.rpc), "{} has two rows", rule.rpc);
    }
}

#[test]
fn gateway_pass_throughs_forward_to_a_decided_backend_rpc_of_the_same_name() {
    for rule in MATRIX.iter().filter(|r| r.service() == GATEWAY) {
        let Access::Forwarded(backend) = rule.access else {
            continue;
        };
        let target = rule_of(backend).unwrap_or_else(|| panic!("{} forwards to {backend}, which has no row", rule.rpc));
        assert!(!matches!(target.access, Access::Forwarded(_)), "{backend} forwards again");
        assert_eq!(target.method(), rule.method(), "{} forwards to another method", rule.rpc);
        assert_ne!(target.service(), GATEWAY);
    }
    // Only the backends' RPCs and the gateway's pass-throughs may be forwarded.
    for rule in MATRIX.iter().filter(|r| r.service() != GATEWAY) {
        assert!(!matches!(rule.access, Access::Forwarded(_)), "{} is not a gateway RPC", rule.rpc);
    }
}

#[test]
fn public_rpcs_are_only_the_ways_to_get_a_token_and_the_probes() {
    let public: BTreeSet<&str> = MATRIX.iter().filter(|r| r.is_public()).map(|r| r.method()).collect();
    // RequestPhoneCode is the first step of SignUp and ResetPassword; a reset also logs in.
    let expected: BTreeSet<&str> = [
        "RequestPhoneCode",
        "SignUp",
        "ResetPassword",
        "Login",
        "Refresh",
        "Logout",
        "GetDiscoverySalt",
        "Check",
        "Watch",
        "ServerReflectionInfo",
    ]
    .into_iter()
    .collect();
    assert_eq!(public, expected);
}
