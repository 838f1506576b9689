//! The fuzz targets: each parser the outside can reach, its seeds and dictionary, the
//! properties every answer must keep, and its allocation budget. One file per surface: the
//! token endpoint's request ([`token`]), the deployment's configuration and the caller's
//! address ([`config`]), the admin API with the stored client record ([`admin`]), and the
//! token endpoint end to end, request and stored record together ([`pipeline`]).

mod admin;
mod config;
mod pipeline;
mod token;

use crate::{alloc::Budget, mutate::Input};

/// What a case showed: accepted (the parser said yes) or refused, or a broken property.
pub type Verdict = Result<bool, String>;

/// One parser under test.
pub struct Target {
    /// Printed with its figures.
    pub name: &'static str,
    /// Near-valid inputs to mutate; every seed has the same number of fields.
    pub seeds: fn() -> Vec<Input>,
    /// Words of the input's language.
    pub dictionary: &'static [&'static [u8]],
    /// The longest field the mutator makes.
    pub max_len: usize,
    /// Runs the parser on a case and checks its properties.
    pub run: fn(&Input) -> Verdict,
    /// What the parser may allocate.
    pub budget: Budget,
}

/// Every target, in the order they run.
pub fn all() -> Vec<Target> {
    let mut all = token::targets();
    all.extend(config::targets());
    all.extend(admin::targets());
    all.extend(pipeline::targets());
    all
}

/// Allocation of a case of `n` input bytes: peak ≤ `peak × n + 64 KiB`, total ≤ `total × n +
/// 64 KiB` (the constant covers fixed costs: error messages, small tables).
fn budget(peak: usize, total: usize) -> Budget {
    Budget {
        peak_per_byte: peak,
        total_per_byte: total,
        constant: 64 * 1024,
    }
}

/// Seeds of one field each.
fn fields1<T: AsRef<[u8]>>(items: &[T]) -> Vec<Input> {
    items
        .iter()
        .map(|b| vec![Some(b.as_ref().to_vec())])
        .collect()
}

/// A field as the header or variable text the Worker would pass (lossy: the platform hands
/// over strings).
fn text(field: &Option<Vec<u8>>) -> Option<String> {
    field
        .as_ref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

/// A field's bytes; an absent field is empty.
fn bytes(field: &Option<Vec<u8>>) -> &[u8] {
    field.as_deref().unwrap_or_default()
}

/// A property: `Err(what)` unless it holds.
fn check(holds: bool, what: &str) -> Result<(), String> {
    if holds {
        Ok(())
    } else {
        Err(what.to_owned())
    }
}
