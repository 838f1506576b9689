//! The guard objects behind a simulated network: one [`ClientGuardState`] per client (the real
//! core code), a round trip per location, an object that serves one request at a time with a
//! soft limit, cut-off windows, and the isolates' [`Backend`] over all of it.

use std::{cell::RefCell, collections::HashMap, future::Future, rc::Rc};

use edge_token::core::guard::{
    Backend, ClientCommand, ClientGuardState, ClientView, FailureReport, LeaseRequest, SpendAnswer,
    SpendBatch, Unavailable,
};

use super::engine::Engine;

/// The edge treats an object that has not answered within this time as unavailable
/// (`ANSWER_WITHIN` in src/edge/guard.rs).
pub const ANSWER_WITHIN_MS: u64 = 1_000;
/// Time an object spends on one request: 1 000 a second is its soft limit.
pub const SERVICE_MS: u64 = 1;
/// An object with more than this much work queued refuses at once ("overloaded").
pub const MAX_QUEUE_MS: u64 = 250;

/// A window in which a location (or, with `None`, every location) cannot reach the objects:
/// requests sent then get no answer, or, when `fast`, an error after the round trip (an
/// overloaded or failing object).
#[derive(Debug, Clone, Copy)]
pub struct Cut {
    /// The location cut off; `None`: the objects are down for everyone.
    pub location: Option<usize>,
    /// From (simulated ms).
    pub from: u64,
    /// Until (simulated ms, excluded).
    pub until: u64,
    /// Answered with an error at once rather than not at all.
    pub fast: bool,
}

/// One client's object: its state and its load.
#[derive(Default)]
pub struct Object {
    state: ClientGuardState,
    busy_until: u64,
    second: u64,
    in_second: u32,
    /// The most requests it received within one simulated second.
    pub peak: u32,
    /// Requests it received.
    pub calls: u64,
    /// Requests it refused as overloaded.
    pub overloaded: u64,
}

/// The network and the objects.
pub struct Net {
    /// The clock and executor.
    pub engine: Rc<Engine>,
    /// Round trip from each location to the objects, in ms.
    pub rtt_ms: Vec<u64>,
    /// Cut-off windows.
    pub cuts: Vec<Cut>,
    /// Objects by guard name.
    pub objects: RefCell<HashMap<String, Object>>,
}

impl Net {
    /// The cut that applies to a request sent from `location` at `at`, if any.
    fn cut(&self, location: usize, at: u64) -> Option<&Cut> {
        self.cuts
            .iter()
            .find(|c| c.location.is_none_or(|l| l == location) && (c.from..c.until).contains(&at))
    }

    /// A request reaching object `guard` at `at`: queued behind earlier ones, or refused when
    /// too much is queued. Returns the answer and when the object finished it.
    fn serve<R>(
        &self,
        guard: &str,
        at: u64,
        handle: impl FnOnce(&mut ClientGuardState, u64) -> R,
    ) -> Option<(R, u64)> {
        let mut objects = self.objects.borrow_mut();
        let object = objects.entry(guard.to_owned()).or_default();
        object.calls += 1;
        if at / 1_000 != object.second {
            object.second = at / 1_000;
            object.in_second = 0;
        }
        object.in_second += 1;
        object.peak = object.peak.max(object.in_second);
        let start = at.max(object.busy_until);
        if start - at > MAX_QUEUE_MS {
            object.overloaded += 1;
            return None;
        }
        object.busy_until = start + SERVICE_MS;
        Some((handle(&mut object.state, start), start + SERVICE_MS))
    }

    /// An operator's command, applied now (the admin API waits for it).
    pub fn command(&self, guard: &str, command: ClientCommand) {
        let mut objects = self.objects.borrow_mut();
        objects
            .entry(guard.to_owned())
            .or_default()
            .state
            .apply(command);
    }
}

/// An isolate's way to the objects, from its location.
#[derive(Clone)]
pub struct SimBackend {
    /// The world.
    pub net: Rc<Net>,
    /// The isolate's location.
    pub location: usize,
}

impl Backend for SimBackend {
    async fn lease(&self, guard: &str, request: &LeaseRequest) -> Result<ClientView, Unavailable> {
        let engine = &self.net.engine;
        let sent = engine.now();
        let deadline = sent + ANSWER_WITHIN_MS;
        let rtt = self.net.rtt_ms[self.location];
        if let Some(cut) = self.net.cut(self.location, sent) {
            let answered = if cut.fast { sent + rtt } else { deadline };
            engine.sleep_until(answered).await;
            return Err(Unavailable);
        }
        engine.sleep_until(sent + rtt / 2).await;
        let answer = self
            .net
            .serve(guard, engine.now(), |state, at| state.lease(at, request));
        match answer {
            Some((view, done)) if done + rtt - rtt / 2 <= deadline => {
                engine.sleep_until(done + rtt - rtt / 2).await;
                Ok(view)
            }
            Some(_) => {
                engine.sleep_until(deadline).await;
                Err(Unavailable)
            }
            None => {
                engine.sleep_until(engine.now() + rtt - rtt / 2).await;
                Err(Unavailable)
            }
        }
    }

    /// The simulation makes no failed authentication.
    async fn client_failure(
        &self,
        _guard: &str,
        _report: &FailureReport,
    ) -> Result<ClientView, Unavailable> {
        Err(Unavailable)
    }

    /// The simulation's clients use secrets.
    async fn spend(&self, _guard: &str, _batch: &SpendBatch) -> Result<SpendAnswer, Unavailable> {
        Err(Unavailable)
    }

    /// The simulation makes no failed authentication.
    async fn source_failure(
        &self,
        _shard: u64,
        _keys: &[String],
    ) -> Result<Vec<(String, u64)>, Unavailable> {
        Err(Unavailable)
    }

    fn spawn(&self, task: impl Future<Output = ()> + 'static) {
        self.net.engine.spawn(task);
    }

    fn now_ms(&self) -> u64 {
        self.net.engine.now()
    }
}
