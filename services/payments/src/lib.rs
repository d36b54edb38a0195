//! The payments service: wallets, holds, AA bills, group balances and charity donations.

pub mod domain;
