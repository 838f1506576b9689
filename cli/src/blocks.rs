//! `blocks …`: source addresses blocked after failed authentications (docs/limits.md), seen
//! and cleared through the admin API. Locally every request comes from 127.0.0.1, so ten
//! wrong secrets block every local client: `blocks clear 127.0.0.1` forgets its failures and
//! doubling (a token isolate that already refuses it does so until the current block ends).

use edge_token::core::admin::{BlockList, Cleared};

use crate::{
    api::Api,
    args::{BlocksCommand, Target},
    failure::{Failure, Outcome},
    output,
    text::percent_encode,
};

/// Runs a `blocks` command.
pub fn run(command: BlocksCommand, json: bool) -> Outcome {
    match command {
        BlocksCommand::List { target } => list(&target, json),
        BlocksCommand::Clear {
            target,
            source,
            all,
        } => clear(&target, clear_path(source.as_deref(), all)?, json),
    }
}

fn list(target: &Target, json: bool) -> Outcome {
    let api = Api::new(target)?;
    let list: BlockList = api.call("GET", &api.path("blocks"))?;
    output::blocks(&list, json);
    Ok(())
}

fn clear(target: &Target, path: String, json: bool) -> Outcome {
    let api = Api::new(target)?;
    let cleared: Cleared = api.call("DELETE", &api.path(&path))?;
    output::cleared(&cleared, json);
    Ok(())
}

/// What to clear: one address, or with `--all` every one; one of the two.
fn clear_path(source: Option<&str>, all: bool) -> Result<String, Failure> {
    match (source, all) {
        (Some(source), false) => Ok(format!("blocks/{}", percent_encode(source))),
        (None, true) => Ok("blocks".to_owned()),
        _ => Err(Failure::usage(
            "name a source address (e.g. 127.0.0.1), or --all for every one",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_takes_one_address_or_all() {
        assert_eq!(clear_path(Some("::1"), false).unwrap(), "blocks/%3A%3A1");
        assert_eq!(clear_path(None, true).unwrap(), "blocks");
        assert_eq!(clear_path(None, false).unwrap_err().code, 2);
    }
}
