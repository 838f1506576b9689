//! A scenario and its run: isolates in locations, arrivals per client, evictions, an
//! operator who disables clients now and then, and what is measured.

use std::{cell::RefCell, f64::consts::TAU, rc::Rc};

use edge_token::core::{
    error::Error,
    guard::{ClientCommand, IsolateCache, Limiter, QuotaRequest, Source},
    limit::{Bucket, Limit},
};

use super::{
    engine::Engine,
    net::{Cut, Net, SimBackend},
    report::Report,
    rng::Rng,
};

/// Simulated time starts here (Unix ms).
pub const T0: u64 = 1_800_000_000_000;
/// How long an operator's disable lasts before the client is enabled again.
const PROBE_MS: u64 = 3_000;

/// How a client's requests arrive.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pattern {
    /// Poisson arrivals at `offered_per_min`.
    Steady,
    /// Batches of half the burst within 100 ms, at `offered_per_min` on average.
    Bursty,
    /// Poisson arrivals whose rate follows one sine "day" over the run, from 5 % to 95 % of
    /// twice `offered_per_min`.
    Diurnal,
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Its name in the table.
    pub name: String,
    /// Isolates serving the clients (spread over the locations by traffic).
    pub isolates: usize,
    /// Locations.
    pub locations: usize,
    /// Clients, all with the same limit and pattern.
    pub clients: usize,
    /// Each client's limit.
    pub limit: Limit,
    /// Each client's mean offered rate, tokens a minute.
    pub offered_per_min: f64,
    /// How requests arrive.
    pub pattern: Pattern,
    /// Share of the traffic at location 0; 0: a Zipf spread over the locations.
    pub hot: f64,
    /// Simulated duration.
    pub seconds: u64,
    /// Mean lifetime of an isolate before eviction.
    pub isolate_life_s: f64,
    /// Windows without the objects.
    pub cuts: Vec<Cut>,
    /// How many times the operator disables clients `0..probe_clients` for 3 s.
    pub probes: usize,
    /// Clients the operator disables.
    pub probe_clients: usize,
    /// The seed of every draw.
    pub seed: u64,
}

/// One isolate: where it is and its memory (replaced when it is evicted).
struct Slot {
    location: usize,
    cache: RefCell<Rc<RefCell<IsolateCache>>>,
}

/// What is counted while the scenario runs.
pub struct Metrics {
    limit: Limit,
    ideal: Vec<Bucket>,
    issued: Vec<u64>,
    /// The largest excess over `per_minute × minutes + burst` of any client at any instant.
    pub overshoot: u64,
    /// Requests judged (outside the operator's disables).
    pub requests: u64,
    /// Requests an ideal central bucket would have served.
    pub ideal_ok: u64,
    /// Requests served (of those judged).
    pub served: u64,
    /// Tokens issued.
    pub tokens: u64,
    /// Requests refused with 429 although the ideal bucket served them.
    pub false_429: u64,
    /// Requests refused with 429.
    pub refused_429: u64,
    /// Requests answered 503 (no fresh view and no object).
    pub unavailable: u64,
    /// Added latency of each request, ms.
    pub latencies: Vec<u32>,
    disabled_since: Option<u64>,
    probe_clients: usize,
    probe_last: u64,
    /// For each disable: ms from it to the last token issued anywhere for a disabled client.
    pub revocations: Vec<u64>,
}

impl Metrics {
    /// Whether the ideal bucket serves a request of `client` arriving at `at`; `None` while
    /// the client is disabled (not judged).
    fn arrive(&mut self, client: usize, at: u64) -> Option<bool> {
        if client < self.probe_clients && self.disabled_since.is_some() {
            return None;
        }
        self.requests += 1;
        let ok = self.ideal[client].take(self.limit, at, 1) == 1;
        self.ideal_ok += u64::from(ok);
        Some(ok)
    }

    fn finish(&mut self, client: usize, start: u64, end: u64, result: &Result<(), Error>) {
        self.latencies
            .push(u32::try_from(end - start).unwrap_or(u32::MAX));
        if result.is_ok() {
            self.tokens += 1;
            self.issued[client] += 1;
            let allowed = self.limit.per_minute * (end - T0) / 60_000 + self.limit.burst;
            self.overshoot = self
                .overshoot
                .max(self.issued[client].saturating_sub(allowed));
            if let (true, Some(since)) = (client < self.probe_clients, self.disabled_since) {
                self.probe_last = self.probe_last.max(end - since);
            }
        }
    }

    fn judge(&mut self, ideal: Option<bool>, result: &Result<(), Error>) {
        match (ideal, result) {
            (Some(ideal), Err(Error::RateLimited { .. })) => {
                self.refused_429 += 1;
                self.false_429 += u64::from(ideal);
            }
            (Some(_), Err(Error::GuardUnavailable)) => self.unavailable += 1,
            (Some(_), Ok(())) => self.served += 1,
            _ => {}
        }
    }
}

/// Everything a task needs.
struct World {
    engine: Rc<Engine>,
    net: Rc<Net>,
    scenario: Scenario,
    slots: Vec<Slot>,
    /// Cumulative traffic share per location, and the slots of each location.
    cumulative: Vec<f64>,
    by_location: Vec<Vec<usize>>,
    guards: Vec<String>,
    rng: RefCell<Rng>,
    metrics: RefCell<Metrics>,
}

/// Traffic share per location: `hot` at location 0 and a Zipf spread over the others, or a
/// Zipf spread over all.
fn shares(locations: usize, hot: f64) -> Vec<f64> {
    let zipf: Vec<f64> = (0..locations).map(|i| 1.0 / (i + 1) as f64).collect();
    let (first, rest) = if hot > 0.0 && locations > 1 {
        let sum: f64 = zipf[1..].iter().sum();
        (hot, (1.0 - hot) / sum)
    } else {
        let sum: f64 = zipf.iter().sum();
        (zipf[0] / sum, 1.0 / sum)
    };
    (0..locations)
        .map(|i| if i == 0 { first } else { zipf[i] * rest })
        .collect()
}

impl World {
    fn new(scenario: Scenario) -> Rc<Self> {
        let mut rng = Rng::new(scenario.seed);
        let engine = Rc::new(Engine::default());
        engine.run_until(T0);
        // Round trips spread log-uniformly over 1–200 ms.
        let rtt_ms = (0..scenario.locations)
            .map(|_| (200_f64.powf(rng.unit()).round() as u64).max(1))
            .collect();
        let shares = shares(scenario.locations, scenario.hot);
        let (mut slots, mut by_location) = (Vec::new(), Vec::new());
        for (location, share) in shares.iter().enumerate() {
            let n = ((scenario.isolates as f64 * share).round() as usize).max(1);
            by_location.push((slots.len()..slots.len() + n).collect());
            slots.extend((0..n).map(|_| Slot {
                location,
                cache: RefCell::default(),
            }));
        }
        let cumulative = shares
            .iter()
            .scan(0.0, |sum, s| {
                *sum += s;
                Some(*sum)
            })
            .collect();
        let net = Rc::new(Net {
            engine: engine.clone(),
            rtt_ms,
            cuts: scenario.cuts.clone(),
            objects: RefCell::default(),
        });
        let metrics = Metrics {
            limit: scenario.limit,
            ideal: vec![Bucket::full(scenario.limit, T0); scenario.clients],
            issued: vec![0; scenario.clients],
            overshoot: 0,
            requests: 0,
            ideal_ok: 0,
            served: 0,
            tokens: 0,
            false_429: 0,
            refused_429: 0,
            unavailable: 0,
            latencies: Vec::new(),
            disabled_since: None,
            probe_clients: scenario.probe_clients,
            probe_last: 0,
            revocations: Vec::new(),
        };
        Rc::new(Self {
            guards: (0..scenario.clients).map(|c| format!("sim:c{c}")).collect(),
            engine,
            net,
            scenario,
            slots,
            cumulative,
            by_location,
            rng: RefCell::new(rng),
            metrics: RefCell::new(metrics),
        })
    }

    fn end(&self) -> u64 {
        T0 + self.scenario.seconds * 1_000
    }

    /// A request of `client` at an isolate picked by traffic share, arriving at `at`.
    fn request(self: &Rc<Self>, client: usize, at: u64) {
        let slot = {
            let mut rng = self.rng.borrow_mut();
            let u = rng.unit();
            let location = self
                .cumulative
                .partition_point(|c| *c <= u)
                .min(self.by_location.len() - 1);
            let slots = &self.by_location[location];
            slots[rng.below(slots.len())]
        };
        let world = self.clone();
        self.engine.spawn(async move {
            world.engine.sleep_until(at).await;
            let ideal = world.metrics.borrow_mut().arrive(client, at);
            let slot = &world.slots[slot];
            let limiter = Limiter {
                cache: slot.cache.borrow().clone(),
                backend: SimBackend {
                    net: world.net.clone(),
                    location: slot.location,
                },
                source: Source::from_header(Some("192.0.2.1")),
            };
            let limit = world.scenario.limit;
            let policy = (limit, &QuotaRequest::default());
            let result = limiter
                .admit(&world.guards[client], policy, "h", 0, at)
                .await;
            let mut metrics = world.metrics.borrow_mut();
            metrics.finish(client, at, world.engine.now(), &result);
            metrics.judge(ideal, &result);
        });
    }

    /// The arrivals of every client, until the end.
    async fn arrivals(self: Rc<Self>) {
        let s = &self.scenario;
        let per_ms = s.offered_per_min * s.clients as f64 / 60_000.0;
        let batch = match s.pattern {
            Pattern::Bursty => (s.limit.burst / 2).max(1),
            _ => 1,
        };
        let peak = if s.pattern == Pattern::Diurnal {
            2.0
        } else {
            1.0
        };
        let mut at = T0 as f64;
        loop {
            let (gap, u, client) = {
                let mut rng = self.rng.borrow_mut();
                (
                    rng.exp(batch as f64 / (per_ms * peak)),
                    rng.unit(),
                    rng.below(s.clients),
                )
            };
            at += gap;
            if at as u64 >= self.end() {
                return;
            }
            self.engine.sleep_until(at as u64).await;
            let day = (at - T0 as f64) / (s.seconds as f64 * 1_000.0);
            if s.pattern == Pattern::Diurnal && u > 0.5 + 0.45 * (TAU * day).sin() {
                continue;
            }
            for _ in 0..batch {
                let offset = if batch > 1 {
                    (self.rng.borrow_mut().unit() * 100.0) as u64
                } else {
                    0
                };
                self.request(client, at as u64 + offset);
            }
        }
    }

    /// Isolate `slot` is evicted now and then and starts again with an empty memory.
    async fn evictions(self: Rc<Self>, slot: usize) {
        loop {
            let life = self
                .rng
                .borrow_mut()
                .exp(self.scenario.isolate_life_s * 1_000.0);
            let at = self.engine.now() + life as u64;
            if at >= self.end() {
                return;
            }
            self.engine.sleep_until(at).await;
            *self.slots[slot].cache.borrow_mut() = Rc::default();
        }
    }

    /// The operator disables clients `0..probe_clients` for 3 s, `probes` times.
    async fn operator(self: Rc<Self>) {
        let s = &self.scenario;
        let step = s.seconds * 1_000 / (s.probes as u64 + 1);
        for k in 1..=s.probes as u64 {
            let at = T0 + k * step;
            self.engine.sleep_until(at).await;
            for guard in &self.guards[..s.probe_clients] {
                self.net.command(guard, ClientCommand::Disable);
            }
            {
                let mut metrics = self.metrics.borrow_mut();
                metrics.disabled_since = Some(at);
                metrics.probe_last = 0;
            }
            self.engine.sleep_until(at + PROBE_MS).await;
            for guard in &self.guards[..s.probe_clients] {
                self.net.command(guard, ClientCommand::Enable);
            }
            let mut metrics = self.metrics.borrow_mut();
            metrics.disabled_since = None;
            let last = metrics.probe_last;
            metrics.revocations.push(last);
        }
    }
}

/// Runs `scenario` to its end (and lets requests in flight finish); what was measured.
pub fn run(scenario: Scenario) -> Report {
    let world = World::new(scenario);
    world.engine.spawn(world.clone().arrivals());
    world.engine.spawn(world.clone().operator());
    for slot in 0..world.slots.len() {
        world.engine.spawn(world.clone().evictions(slot));
    }
    world.engine.run_until(world.end() + 2 * PROBE_MS);
    let metrics = world.metrics.borrow();
    Report::new(&world.scenario, &world.net, world.slots.len(), &metrics)
}
