//! End-to-end tests of tuan: see `tests/e2e/main.rs`. Nothing here; the harness lives with the
//! tests so it is compiled only for them.
