//! What a scenario measured, as one row of the table in docs/limits.md.

use std::fmt::Write;

use super::{
    net::Net,
    world::{Metrics, Scenario},
};

/// The figures of one scenario.
#[derive(Debug, Clone)]
pub struct Report {
    /// The scenario's name.
    pub name: String,
    /// Isolates and locations.
    pub isolates: usize,
    /// Locations.
    pub locations: usize,
    /// Requests judged (outside the operator's disables).
    pub requests: u64,
    /// Tokens issued.
    pub tokens: u64,
    /// `per_minute × minutes + burst`, summed over the clients.
    pub bound: u64,
    /// Largest excess of one client over its bound at any instant (must be 0).
    pub overshoot: u64,
    /// Requests refused with 429 that an ideal central bucket would have served, as a share of
    /// those it would have served.
    pub false_429: f64,
    /// Requests served, as a share of those the ideal central bucket served.
    pub served: f64,
    /// Requests answered 503, as a share of the requests.
    pub unavailable: f64,
    /// Object requests per second per client (mean over the run).
    pub object_rate: f64,
    /// The most requests one object received within one second.
    pub object_peak: u32,
    /// Requests an object refused as overloaded.
    pub overloaded: u64,
    /// Share of requests that waited for an object.
    pub waited: f64,
    /// Added latency, ms: p50 and p99.
    pub latency: (u32, u32),
    /// From a disable to the last token anywhere, ms: p50, p99 and max.
    pub revocation: (u64, u64, u64),
    /// The longest round trip of any location, ms.
    pub max_rtt: u64,
}

/// The `q`-quantile of sorted `values` (0 when empty).
fn quantile<T: Copy + Default>(sorted: &[T], q: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

impl Report {
    /// The figures of a finished run.
    pub fn new(scenario: &Scenario, net: &Net, isolates: usize, m: &Metrics) -> Self {
        let objects = net.objects.borrow();
        let calls: u64 = objects.values().map(|o| o.calls).sum();
        let mut latencies = m.latencies.clone();
        latencies.sort_unstable();
        let mut revocations = m.revocations.clone();
        revocations.sort_unstable();
        let limit = scenario.limit;
        let minutes = scenario.seconds as f64 / 60.0;
        let share = |n: u64, of: u64| n as f64 / of.max(1) as f64;
        Self {
            name: scenario.name.clone(),
            isolates,
            locations: scenario.locations,
            requests: m.requests,
            tokens: m.tokens,
            bound: scenario.clients as u64
                * ((limit.per_minute as f64 * minutes) as u64 + limit.burst),
            overshoot: m.overshoot,
            false_429: share(m.false_429, m.ideal_ok),
            served: share(m.served, m.ideal_ok),
            unavailable: share(m.unavailable, m.requests),
            object_rate: calls as f64 / scenario.seconds as f64 / objects.len().max(1) as f64,
            object_peak: objects.values().map(|o| o.peak).max().unwrap_or(0),
            overloaded: objects.values().map(|o| o.overloaded).sum(),
            waited: share(
                latencies.iter().filter(|l| **l > 0).count() as u64,
                latencies.len() as u64,
            ),
            latency: (quantile(&latencies, 0.5), quantile(&latencies, 0.99)),
            revocation: (
                quantile(&revocations, 0.5),
                quantile(&revocations, 0.99),
                revocations.last().copied().unwrap_or(0),
            ),
            max_rtt: net.rtt_ms.iter().copied().max().unwrap_or(0),
        }
    }

    /// The table's header (Markdown).
    pub fn header() -> String {
        "| scenario | isolates / locations | requests | tokens / bound | overshoot | false 429 (served / ideal) | \
         503 | object req/s per client (peak, overloaded) | waited | added ms p50 / p99 | \
         disable → last token ms p50 / p99 / max |\n\
         |---|---|---|---|---|---|---|---|---|---|---|"
            .to_owned()
    }

    /// The scenario's row (Markdown).
    pub fn row(&self) -> String {
        let mut row = String::new();
        let pct = |x: f64| format!("{:.2} %", x * 100.0);
        let _ = write!(
            row,
            "| {} | {} / {} | {} | {} / {} | {} | {} ({}) | {} | {:.2} ({}, {}) | {} | {} / {} | {} / {} / {} |",
            self.name,
            self.isolates,
            self.locations,
            self.requests,
            self.tokens,
            self.bound,
            self.overshoot,
            pct(self.false_429),
            pct(self.served),
            pct(self.unavailable),
            self.object_rate,
            self.object_peak,
            self.overloaded,
            pct(self.waited),
            self.latency.0,
            self.latency.1,
            self.revocation.0,
            self.revocation.1,
            self.revocation.2,
        );
        row
    }
}
