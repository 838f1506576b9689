//! `blocks …`: source addresses blocked after failed authentications (docs/limits.md), seen
//! and cleared through the admin API. Locally every request comes from 127.0.0.1, so ten
//! wrong secrets block every local client: `blocks clear 127.0.0.1` forgets its failures and
//! doubling (a token isolate that already refuses it does so until the current block ends).

use edge_token::core::admin::{BlockList, Cleared};

use crate::{
    api::{percent_encode, Api},
    output, BlocksCommand, Failure,
};

/// Runs a `blocks` command.
pub fn run(command: BlocksCommand, json: bool) -> Result<(), Failure> {
    match command {
        BlocksCommand::List { target } => {
            let api = Api::new(&target)?;
            let list: BlockList = api.call("GET", &api.url("blocks"), None)?;
            output::blocks(&list, json);
        }
        BlocksCommand::Clear {
            target,
            source,
            all,
        } => {
            let path = match (source, all) {
                (Some(source), false) => format!("blocks/{}", percent_encode(&source)),
                (None, true) => "blocks".to_owned(),
                _ => {
                    return Err(Failure::usage(
                        "name a source address (e.g. 127.0.0.1), or --all for every one",
                    ))
                }
            };
            let api = Api::new(&target)?;
            let cleared: Cleared = api.call("DELETE", &api.url(&path), None)?;
            output::cleared(&cleared, json);
        }
    }
    Ok(())
}
