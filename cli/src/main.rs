//! `edge-token-admin`: the operator's tool for an edge-token deployment.
//!
//! - `client …` ([`client`]): register, show, list, update, disable/enable, delete clients,
//!   rotate and retire their secrets, through the Worker's admin API ([`api`]);
//! - `keys …` ([`keys`]): generate, add, promote and retire signing keys in a JWK Set file
//!   (or the `SIGNING_KEYS` line of `.dev.vars`, [`devvars`]), and say what to give
//!   `wrangler secret put`;
//! - `token verify` ([`token`]): decode and check a token against a running endpoint's JWKS;
//! - `blocks …` ([`blocks`]): list and clear source addresses blocked after failed
//!   authentications, through the admin API;
//! - `usage` ([`usage`]): token requests per client from the deployed Worker's Analytics
//!   Engine dataset, through the Cloudflare API.
//!
//! The command line is in [`args`]; every request goes to an [`endpoint`] the CLI can trust
//! with the admin token. Human output by default, `--json` for scripts ([`output`]); a
//! failure ([`failure`]) prints one line on standard error, JSON with `--json`. Exit status:
//! 0 done, 1 refused or failed, 2 bad usage.

#![forbid(unsafe_code)]

mod api;
mod args;
mod assertion;
mod blocks;
mod certificate;
mod client;
mod devvars;
mod endpoint;
mod failure;
mod keys;
mod output;
mod text;
mod token;
mod usage;

use std::process::ExitCode;

use clap::Parser;

use crate::{
    args::{Cli, Command, TokenCommand},
    failure::Failure,
};

/// The time, read once per run: every rule of the command sees the same `now`.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether `--json` was asked for, from the raw arguments (for the failures that come before
/// the arguments could be parsed).
fn json_asked(args: &[String]) -> bool {
    args.iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "--json")
}

/// The failure for arguments clap refused; `None` for `--help` and `--version`, which clap
/// prints itself.
fn usage_failure(error: &clap::Error) -> Option<Failure> {
    use clap::error::ErrorKind::{
        DisplayHelp, DisplayHelpOnMissingArgumentOrSubcommand, DisplayVersion,
    };
    if matches!(
        error.kind(),
        DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return None;
    }
    let text = error.to_string();
    let first = text.lines().next().unwrap_or_default();
    Some(Failure::usage(first.trim_start_matches("error: ")))
}

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().collect();
    let cli = match Cli::try_parse_from(&raw) {
        Ok(cli) => cli,
        Err(error) => match usage_failure(&error).filter(|_| json_asked(&raw)) {
            Some(failure) => {
                eprintln!("{}", failure.render(true));
                return ExitCode::from(failure.code);
            }
            None => error.exit(),
        },
    };
    let (json, now) = (cli.json, now());
    let result = match cli.command {
        Command::Client(command) => client::run(command, json, now),
        Command::Keys(command) => keys::run(command, json, now),
        Command::Blocks(command) => blocks::run(command, json),
        Command::Token(TokenCommand::Verify(args)) => token::verify(args, json, now),
        Command::Usage(args) => usage::run(&args, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{}", failure.render(json));
            ExitCode::from(failure.code)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_usage_error_with_json_is_reported_as_json() {
        let raw: Vec<String> = ["edge-token-admin", "--json", "client", "frobnicate"]
            .map(str::to_owned)
            .to_vec();
        assert!(json_asked(&raw));
        let error = Cli::try_parse_from(&raw).err().unwrap();
        let failure = usage_failure(&error).unwrap();
        assert_eq!(failure.code, 2);
        assert!(
            failure.message.contains("frobnicate"),
            "{}",
            failure.message
        );
        let help = Cli::try_parse_from(["edge-token-admin", "--help"])
            .err()
            .unwrap();
        assert!(usage_failure(&help).is_none());
        assert!(!json_asked(&["x".into(), "--".into(), "--json".into()]));
    }
}
