//! Fuzzing on stable Rust: arbitrary and near-valid bytes through every parser the outside
//! can reach, with no panic, no broken property, and no allocation past a budget linear in
//! the input's length (a counting global allocator measures each case).
//!
//! `cargo test --test fuzz` runs a short round (also part of `npm test`); `npm run fuzz` a
//! long one. Environment: `FUZZ_CASES` (cases per target, default 2 000), `FUZZ_SEED` (default
//! fixed, so a failure is reproducible), and an optional argument that keeps only the
//! targets whose name contains it. A failure prints the target, the seed, the case number and
//! the input, and the run exits with status 1.

mod alloc;
mod mutate;
#[path = "../support/mod.rs"]
mod support;
mod targets;

use std::{
    panic::{catch_unwind, AssertUnwindSafe},
    process::ExitCode,
    time::{Duration, Instant},
};

use alloc::{Counting, Usage};
use mutate::{Grammar, Input, Rng};
use targets::Target;

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Cases per target unless `FUZZ_CASES` says otherwise: a few seconds in all.
const DEFAULT_CASES: u64 = 2_000;
/// The seed unless `FUZZ_SEED` says otherwise.
const DEFAULT_SEED: u64 = 0x5eed_f022;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// What a target's run found.
#[derive(Default)]
struct Figures {
    cases: u64,
    accepted: u64,
    max_peak: usize,
    max_len: usize,
    slowest: Duration,
    /// The most bytes held at once, and asked for in all, beyond the budget's constant, per
    /// input byte: what the budget's multiples bound.
    peak_per_byte: usize,
    total_per_byte: usize,
}

/// Runs `cases` cases of `target`; the first failure ends its run.
fn fuzz(target: &Target, seed: u64, cases: u64) -> Result<Figures, String> {
    let seeds = (target.seeds)();
    let grammar = Grammar {
        seeds: &seeds,
        dictionary: target.dictionary,
        max_len: target.max_len,
    };
    let mut rng = Rng::new(seed ^ fnv(target.name));
    let mut figures = Figures::default();
    for case in 0..cases {
        let input = grammar.generate(&mut rng);
        let len: usize = input.iter().flatten().map(Vec::len).sum();
        let started = Instant::now();
        let usage = Usage::start();
        let verdict = catch_unwind(AssertUnwindSafe(|| (target.run)(&input)));
        let usage = usage.stop();
        let elapsed = started.elapsed();
        let failure = match verdict {
            Err(_) => Some("panicked".to_owned()),
            Ok(Err(broken)) => Some(format!("broke a property: {broken}")),
            Ok(Ok(accepted)) => {
                figures.accepted += u64::from(accepted);
                target.budget.check(usage, len).err()
            }
        };
        if let Some(failure) = failure {
            let saved = save(target.name, seed, case, &input);
            return Err(format!(
                "case {case} (FUZZ_SEED={seed}) {failure}\ninput: {}\nwhole input: {saved}",
                show(&input, 256)
            ));
        }
        figures.cases += 1;
        figures.max_peak = figures.max_peak.max(usage.peak);
        figures.max_len = figures.max_len.max(len);
        if len > 0 {
            let beyond = |bytes: usize| bytes.saturating_sub(target.budget.constant) / len;
            figures.peak_per_byte = figures.peak_per_byte.max(beyond(usage.peak));
            figures.total_per_byte = figures.total_per_byte.max(beyond(usage.total));
        }
        figures.slowest = figures.slowest.max(elapsed);
    }
    Ok(figures)
}

/// FNV-1a of a target's name: each target draws its own sequence from the seed.
fn fnv(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// An input as Rust byte-string literals, each cut to `max` bytes (`…` marks a cut).
fn show(input: &Input, max: usize) -> String {
    let fields: Vec<String> = input
        .iter()
        .map(|field| match field {
            None => "None".to_owned(),
            Some(bytes) => {
                let cut = if bytes.len() > max { "…" } else { "" };
                let shown = &bytes[..bytes.len().min(max)];
                format!("Some(b\"{}\"{cut})", shown.escape_ascii())
            }
        })
        .collect();
    format!("[{}]", fields.join(", "))
}

/// Writes a failing input whole, as Rust literals ready for a regression test; returns where.
fn save(target: &str, seed: u64, case: u64, input: &Input) -> String {
    let name: String = target
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fuzz-{name}-{seed}-{case}.txt"));
    match std::fs::write(&path, show(input, usize::MAX)) {
        Ok(()) => path.display().to_string(),
        Err(e) => format!("not saved ({e})"),
    }
}

/// Prints what a target's run did: the figures the lead reports, and the margin to the budget.
fn report(target: &Target, f: &Figures, elapsed: Duration) {
    println!(
        "fuzz {}: {} cases ({} accepted) in {elapsed:.1?}; slowest {:.1?}; peak {} B, longest \
         input {} B; beyond the constant, per input byte at most {} B held (budget {}) and {} B \
         asked (budget {})",
        target.name,
        f.cases,
        f.accepted,
        f.slowest,
        f.max_peak,
        f.max_len,
        f.peak_per_byte,
        target.budget.peak_per_byte,
        f.total_per_byte,
        target.budget.total_per_byte,
    );
}

/// The checks themselves must be able to fail: a panic is caught, and an allocation past the
/// budget is seen.
fn self_check() {
    let budget = alloc::Budget {
        peak_per_byte: 2,
        total_per_byte: 4,
        constant: 0,
    };
    let usage = Usage::start();
    let held = std::hint::black_box(vec![0_u8; 100]);
    let usage = usage.stop();
    drop(held);
    assert!(
        budget.check(usage, 10).is_err(),
        "100 B held for 10 input bytes went unseen"
    );
    assert!(
        budget.check(usage, 50).is_ok(),
        "100 B held for 50 input bytes is within 2 × 50"
    );
    let quiet = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let caught = catch_unwind(|| panic!("a planted panic"));
    std::panic::set_hook(quiet);
    assert!(caught.is_err(), "a panic went unseen");
}

fn main() -> ExitCode {
    self_check();
    let cases = env_number("FUZZ_CASES", DEFAULT_CASES);
    let seed = env_number("FUZZ_SEED", DEFAULT_SEED);
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut failed = 0;
    for target in targets::all() {
        if filter.as_deref().is_some_and(|f| !target.name.contains(f)) {
            continue;
        }
        let started = Instant::now();
        match fuzz(&target, seed, cases) {
            Ok(figures) => report(&target, &figures, started.elapsed()),
            Err(failure) => {
                failed += 1;
                println!("fuzz {}: FAILED at {failure}", target.name);
            }
        }
    }
    if failed > 0 {
        println!("fuzz: {failed} target(s) failed");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
