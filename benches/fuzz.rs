//! Long parser-fuzzing runs: every target of `tests/fuzzing` (the same
//! targets, seeds, mutations and checks CI runs a few hundred of) for
//! `FUZZ_CASES` cases each, printing executions, speed, the largest heap
//! peak, the slowest case and every finding. Never fails: findings are
//! printed and their inputs saved under `target/fuzz-findings/`.
//!
//! ```text
//! FUZZ_CASES=10000000 cargo bench --bench fuzz             # ≥ 10 million per target
//! FUZZ_TARGETS=probe,range FUZZ_CASES=100000 cargo bench --bench fuzz
//! ```
//! `FUZZ_SEED` moves the case numbers (default 0), so runs can cover new
//! ground; a finding reproduces from its case number and seed. `FUZZ_SECS`
//! bounds the whole run's time: each target gets the time left divided by
//! the targets left (a fast target's unused share goes to the next), stops
//! early when its share is spent, and says so in the table.

#[path = "../tests/fuzzing/mod.rs"]
mod fuzzing;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fuzzing::{Mutator, Seed, check, hex_prefix, targets};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|n| n.replace('_', "").parse().ok()).unwrap_or(default)
}

/// One target's run.
struct Report {
    name: &'static str,
    cases: u64,
    elapsed: Duration,
    max_peak_heap: usize,
    max_peak_input: usize,
    slowest: Duration,
    /// Stopped by `FUZZ_SECS` before `FUZZ_CASES`.
    cut_short: bool,
    /// Findings by kind and message (first case, count).
    findings: BTreeMap<(String, String), (u64, u64)>,
}

fn main() {
    let cases = env_number("FUZZ_CASES", 200_000);
    let first = env_number("FUZZ_SEED", 0).wrapping_mul(1 << 40);
    let only: Option<Vec<String>> =
        std::env::var("FUZZ_TARGETS").ok().map(|list| list.split(',').map(|t| t.trim().to_owned()).collect());
    // The upload targets write and sync temp files: on a tmpfs that costs nothing.
    let budget = std::env::var("FUZZ_SECS").ok().and_then(|s| s.parse::<u64>().ok()).map(Duration::from_secs);
    let run_started = Instant::now();
    let scratch_root = if Path::new("/dev/shm").is_dir() { PathBuf::from("/dev/shm") } else { std::env::temp_dir() };
    let scratch = tempfile::tempdir_in(&scratch_root).expect("scratch dir");
    let findings_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-findings");
    // Panics are findings, reported below; the default hook would print each.
    std::panic::set_hook(Box::new(|_| {}));
    println!("parser fuzzing: {cases} cases per target, seed offset {first}, scratch {}", scratch_root.display());
    let mut reports = Vec::new();
    let chosen: Vec<_> = targets::all(scratch.path())
        .into_iter()
        .filter(|target| only.as_ref().is_none_or(|only| only.iter().any(|name| name == target.name())))
        .collect();
    let total_targets = chosen.len() as u32;
    for (done, mut target) in chosen.into_iter().enumerate() {
        let share = budget.map(|budget| budget.saturating_sub(run_started.elapsed()) / (total_targets - done as u32));
        let seeds: Vec<Seed> =
            target.seeds().iter().map(|seed| Seed { bytes: seed.bytes.clone(), hot: seed.hot.clone() }).collect();
        for seed in &seeds {
            let _ = target.run(&seed.bytes);
        }
        let dictionary = target.dictionary().to_vec();
        let mutator = Mutator::new(&seeds, &dictionary, target.max_len());
        let mut report = Report {
            name: target.name(),
            cases: 0,
            elapsed: Duration::ZERO,
            max_peak_heap: 0,
            max_peak_input: 0,
            slowest: Duration::ZERO,
            cut_short: false,
            findings: BTreeMap::new(),
        };
        let started = Instant::now();
        let mut last_progress = Instant::now();
        let mut input = Vec::new();
        for n in 0..cases {
            let case = first.wrapping_add(n);
            mutator.generate(case, &mut input);
            let (result, measure) = check(target.as_mut(), &input);
            report.cases += 1;
            if measure.peak_heap > report.max_peak_heap {
                report.max_peak_heap = measure.peak_heap;
                report.max_peak_input = input.len();
            }
            report.slowest = report.slowest.max(measure.elapsed);
            if let Err(finding) = result {
                // Group by kind and the message's first 80 characters.
                let message: String = finding.to_string().chars().take(80).collect();
                let entry = report.findings.entry((finding.kind().to_owned(), message)).or_insert((case, 0));
                entry.1 += 1;
                if entry.1 == 1 {
                    save_finding(&findings_dir, report.name, case, &input);
                    println!("  FINDING {} case {case}: {finding}\n    input {}", report.name, hex_prefix(&input, 64));
                }
            }
            if last_progress.elapsed() > Duration::from_secs(30) {
                last_progress = Instant::now();
                if share.is_some_and(|share| started.elapsed() >= share) {
                    report.cut_short = true;
                    println!("  {:<14} stopped by FUZZ_SECS after {} cases", report.name, report.cases);
                    break;
                }
                let rate = report.cases as f64 / started.elapsed().as_secs_f64();
                println!("  {:<14} {:>12} cases  {:>9.0}/s", report.name, report.cases, rate);
                let _ = std::io::stdout().flush();
            }
        }
        report.elapsed = started.elapsed();
        print_report(&report);
        reports.push(report);
    }
    println!();
    println!("| target | cases | exec/s | max peak heap (input bytes) | slowest case | findings (distinct) |");
    println!("|---|---:|---:|---:|---:|---:|");
    for report in &reports {
        let total: u64 = report.findings.values().map(|(_, count)| count).sum();
        println!(
            "| {} | {} | {:.0} | {} KiB ({} B) | {:.1} ms | {} ({}) |",
            report.name,
            if report.cut_short { format!("{} (time budget)", report.cases) } else { report.cases.to_string() },
            report.cases as f64 / report.elapsed.as_secs_f64(),
            report.max_peak_heap / 1024,
            report.max_peak_input,
            report.slowest.as_secs_f64() * 1000.0,
            total,
            report.findings.len()
        );
    }
}

fn print_report(report: &Report) {
    let total: u64 = report.findings.values().map(|(_, count)| count).sum();
    println!(
        "{}: {} cases in {:.1} s ({:.0}/s); max peak heap {} B; slowest {:.2} ms; {} findings",
        report.name,
        report.cases,
        report.elapsed.as_secs_f64(),
        report.cases as f64 / report.elapsed.as_secs_f64(),
        report.max_peak_heap,
        report.slowest.as_secs_f64() * 1000.0,
        total
    );
    for ((kind, message), (case, count)) in &report.findings {
        println!("  {kind} ×{count} (first: case {case}): {message}");
    }
}

fn save_finding(dir: &Path, target: &str, case: u64, input: &[u8]) {
    if std::fs::create_dir_all(dir).is_ok() {
        let _ = std::fs::write(dir.join(format!("{target}-{case}.bin")), input);
    }
}
