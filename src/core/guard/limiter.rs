//! The isolate's side of the protections: the [`Limiter`] asks the objects through a
//! [`Backend`] only when its cached view cannot decide, and otherwise refreshes in the
//! background.

use std::{cell::RefCell, future::Future, rc::Rc};

use super::{
    objects::{ClientView, LeaseRequest},
    source_shard, throttled,
    view::{CachedView, IsolateCache, Step},
};
use crate::core::{error::Error, limit::Limit};

/// The object could not be asked (error, overload, or no answer in time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// How the isolate reaches the objects and runs background work. The edge implements it over
/// Durable Object stubs and `ctx.wait_until`; tests over fakes.
#[allow(async_fn_in_trait)] // Workers are single-threaded: no `Send` bound wanted.
pub trait Backend: Clone + 'static {
    /// Asks a client's object (named `guard`: [`crate::core::client::guard_name`]) for a lease.
    async fn lease(&self, guard: &str, request: &LeaseRequest) -> Result<ClientView, Unavailable>;
    /// Reports a failed authentication to a client's object (named `guard`).
    async fn client_failure(&self, guard: &str) -> Result<ClientView, Unavailable>;
    /// Reports a failure from a source to its shard; answers until when it is blocked.
    async fn source_failure(&self, shard: u64, source: &str) -> Result<u64, Unavailable>;
    /// Runs `task` after the response, within the request's lifetime.
    fn spawn(&self, task: impl Future<Output = ()> + 'static);
    /// Unix ms now (background tasks finish later than they start).
    fn now_ms(&self) -> u64;
}

/// The isolate's side of the protections, for one request.
pub struct Limiter<B: Backend> {
    /// The isolate's shared memory of the objects' answers.
    pub cache: Rc<RefCell<IsolateCache>>,
    /// How to reach the objects.
    pub backend: B,
    /// The request's source key ([`super::source_key`]), if known.
    pub source: Option<String>,
}

impl<B: Backend> Limiter<B> {
    /// Before any credential is checked: a source this isolate knows to be blocked is refused.
    pub fn check_source(&self, now: u64) -> Result<(), Error> {
        let Some(source) = &self.source else {
            return Ok(());
        };
        match self.cache.borrow().blocked_sources.get(source) {
            Some(&until) if until > now => Err(throttled(until - now)),
            _ => Ok(()),
        }
    }

    /// After a failed authentication: reported in the background, never delaying the answer.
    /// `guard` (the client's guard name) is set only when the client exists.
    pub fn report_failure(&self, guard: Option<&str>) {
        if let Some(source) = self.source.clone() {
            let (backend, cache) = (self.backend.clone(), self.cache.clone());
            self.backend.spawn(async move {
                if let Ok(until) = backend.source_failure(source_shard(&source), &source).await {
                    let mut cache = cache.borrow_mut();
                    cache.prune(backend.now_ms());
                    if until > 0 {
                        cache.blocked_sources.insert(source, until);
                    }
                }
            });
        }
        if let Some(guard) = guard.map(str::to_owned) {
            let (backend, cache) = (self.backend.clone(), self.cache.clone());
            self.backend.spawn(async move {
                if let Ok(view) = backend.client_failure(&guard).await {
                    // Keep any lease; take in the new guard state.
                    if let Some(cached) = cache.borrow_mut().clients.get_mut(&guard) {
                        cached.view.guarded_until = view.guarded_until;
                    }
                }
            });
        }
    }

    /// For an authenticated client: revocation, guard and issuance limit.
    pub async fn admit(
        &self,
        guard: &str,
        limit: Limit,
        secret_hash: &str,
        now: u64,
    ) -> Result<(), Error> {
        let source = self.source.as_deref();
        let step = match self.cache.borrow_mut().clients.get_mut(guard) {
            Some(cached) => cached.decide(now, source, secret_hash),
            None => Step::Ask,
        };
        match self.serve(step, guard, limit, secret_hash) {
            Some(answer) => answer,
            None => self.ask(guard, limit, secret_hash, now).await,
        }
    }

    /// Carries out a step decided without the object: serves (starting a background refresh
    /// if the step asks for one) or refuses. `None` when the step is to ask the object.
    fn serve(
        &self,
        step: Step,
        guard: &str,
        limit: Limit,
        secret_hash: &str,
    ) -> Option<Result<(), Error>> {
        match step {
            Step::Serve { refresh } => {
                if refresh {
                    self.refresh_in_background(guard, limit, secret_hash);
                }
                Some(Ok(()))
            }
            Step::Refuse(error) => Some(Err(error)),
            Step::Ask => None,
        }
    }

    /// What to ask a client's object for at `now`: what the isolate's pace needs (plus one
    /// token when a request is `waiting`), giving back what it holds beyond that
    /// ([`CachedView::lease_amounts`]); one token when it has no view of the client yet.
    fn lease_request(
        &self,
        guard: &str,
        limit: Limit,
        secret_hash: &str,
        now: u64,
        waiting: bool,
    ) -> LeaseRequest {
        let (want, returned) = self
            .cache
            .borrow_mut()
            .clients
            .get_mut(guard)
            .map_or((u64::from(waiting), 0), |c| c.lease_amounts(now, waiting));
        LeaseRequest {
            per_minute: limit.per_minute,
            burst: limit.burst,
            want,
            returned,
            source: self.source.clone(),
            secret_hash: secret_hash.to_owned(),
        }
    }

    /// Asks the object and decides from its answer, or without it when it cannot be asked.
    async fn ask(
        &self,
        guard: &str,
        limit: Limit,
        secret_hash: &str,
        now: u64,
    ) -> Result<(), Error> {
        let request = self.lease_request(guard, limit, secret_hash, now, true);
        let answer = self.backend.lease(guard, &request).await;
        let now = now.max(self.backend.now_ms());
        let source = self.source.as_deref();
        let mut cache = self.cache.borrow_mut();
        cache.prune(now);
        match answer {
            Ok(view) => {
                let cached = cache
                    .clients
                    .entry(guard.to_owned())
                    .and_modify(|c| c.merge(view.clone(), limit, now))
                    .or_insert_with(|| CachedView::new(view, limit, now));
                let step = cached.decide(now, source, secret_hash);
                let empty = cached.rate_limited(cached.view.wait_ms);
                drop(cache);
                // Asking again after a fresh answer: it granted nothing.
                self.serve(step, guard, limit, secret_hash)
                    .unwrap_or(Err(empty))
            }
            Err(Unavailable) => match cache.clients.get_mut(guard) {
                Some(cached) => cached.decide_without_object(now, source, secret_hash),
                None => Err(Error::GuardUnavailable),
            },
        }
    }

    /// Tops the lease up and takes in the newer view after the answer, without delaying it.
    fn refresh_in_background(&self, guard: &str, limit: Limit, secret_hash: &str) {
        let now = self.backend.now_ms();
        let request = self.lease_request(guard, limit, secret_hash, now, false);
        let (backend, cache, id) = (self.backend.clone(), self.cache.clone(), guard.to_owned());
        self.backend.spawn(async move {
            let answer = backend.lease(&id, &request).await;
            let now = backend.now_ms();
            if let Some(cached) = cache.borrow_mut().clients.get_mut(&id) {
                match answer {
                    Ok(view) => cached.merge(view, limit, now),
                    Err(Unavailable) => cached.refresh_failed(),
                }
            }
        });
    }
}
