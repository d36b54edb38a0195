//! `tuanctl`: see the crate's library and docs/operations.md.

use clap::Parser as _;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let cli = tuanctl::Cli::parse();
    match tuanctl::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tuanctl: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
