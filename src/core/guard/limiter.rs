//! The isolate's side of the protections: the [`Limiter`] asks the objects through a
//! [`Backend`] only when its cached view cannot decide, and otherwise refreshes in the
//! background.

use std::{
    cell::{RefCell, RefMut},
    future::Future,
    rc::Rc,
};

use super::{
    assertions::{SpendAnswer, SpendBatch, SpendRequest, Spent},
    objects::{ClientView, FailureReport, LeaseRequest},
    quota::QuotaRequest,
    source::Source,
    throttled,
    view::{CachedView, IsolateCache, Step},
};
use crate::core::{
    error::Error,
    gate::{client_gate_key, Gate},
    limit::Limit,
};

/// The object could not be asked (error, overload, or no answer in time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unavailable;

/// How the isolate reaches the objects and runs background work. The edge implements it over
/// Durable Object stubs and `ctx.wait_until`; tests over fakes.
#[allow(async_fn_in_trait)] // Workers are single-threaded: no `Send` bound wanted.
pub trait Backend: Clone + 'static {
    /// Asks a client's object (named `guard`: [`crate::core::client::guard_name`]) for a lease.
    async fn lease(&self, guard: &str, request: &LeaseRequest) -> Result<ClientView, Unavailable>;
    /// Reports a wrong secret to a client's object (named `guard`).
    async fn client_failure(
        &self,
        guard: &str,
        report: &FailureReport,
    ) -> Result<ClientView, Unavailable>;
    /// Spends `jti`s in a client's object (named `guard`), with a lease when the batch asks
    /// for one.
    async fn spend(&self, guard: &str, batch: &SpendBatch) -> Result<SpendAnswer, Unavailable>;
    /// Reports a failure from a source (its [`Source::keys`]) to its shard; answers the
    /// source's blocked prefixes and until when (Unix ms).
    async fn source_failure(
        &self,
        shard: u64,
        keys: &[String],
    ) -> Result<Vec<(String, u64)>, Unavailable>;
    /// Counts one more wrong secret at the client gate `key` ([`client_gate_key`]), which
    /// costs no storage operation. Without a gate ([`Gate::Absent`], the default) the
    /// client's object counts every failure.
    async fn client_gate(&self, _key: &str) -> Gate {
        Gate::Absent
    }
    /// Runs `task` after the response, within the request's lifetime.
    fn spawn(&self, task: impl Future<Output = ()> + 'static);
    /// Unix ms now (background tasks finish later than they start).
    fn now_ms(&self) -> u64;
}

/// What [`Limiter::admit`] will be passed for a request whose `jti`s are spent first, so that
/// the spend can bring the lease back ([`Limiter::spend`]).
#[derive(Debug, Clone, Copy)]
pub struct Admission<'a> {
    /// The client's limit.
    pub limit: Limit,
    /// Its quotas.
    pub quota: &'a QuotaRequest,
    /// What its lease requests carry (the caller's lease key).
    pub lease_key: &'a str,
}

/// The isolate's side of the protections, for one request.
pub struct Limiter<B: Backend> {
    /// The isolate's shared memory of the objects' answers.
    pub cache: Rc<RefCell<IsolateCache>>,
    /// How to reach the objects.
    pub backend: B,
    /// The request's source.
    pub source: Source,
}

impl<B: Backend> Limiter<B> {
    /// Before any credential is checked: a source this isolate knows to be blocked (at any of
    /// its prefixes) is refused.
    pub fn check_source(&self, now: u64) -> Result<(), Error> {
        match self.cache.borrow().blocked_until(&self.source, now) {
            Some(until) => Err(throttled(until - now)),
            None => Ok(()),
        }
    }

    /// After a failed authentication: reported to the source's shard in the background,
    /// never delaying the answer, unless the isolate knows the source is blocked already
    /// (checked again when the report is about to go).
    pub fn report_failure(&self, now: u64) {
        if self
            .cache
            .borrow()
            .blocked_until(&self.source, now)
            .is_some()
        {
            return;
        }
        let (backend, cache) = (self.backend.clone(), self.cache.clone());
        let source = self.source.clone();
        self.backend.spawn(async move {
            if cache
                .borrow()
                .blocked_until(&source, backend.now_ms())
                .is_some()
            {
                return;
            }
            if let Ok(blocked) = backend.source_failure(source.shard(), source.keys()).await {
                let mut cache = cache.borrow_mut();
                cache.prune(backend.now_ms());
                cache.blocked_sources.extend(blocked);
            }
        });
    }

    /// Before the secret is hashed: a client this isolate knows to be under guard for the
    /// request's source is refused, whatever the secret.
    pub fn gate(&self, guard: &str, now: u64) -> Result<(), Error> {
        let cache = self.cache.borrow();
        match cache
            .clients
            .get(guard)
            .and_then(|c| c.guarded(now, &self.source))
        {
            Some(until) => Err(throttled(until - now)),
            None => Ok(()),
        }
    }

    /// After a wrong secret for an existing client: reports it to the source's shard (in the
    /// background) and to the client's object, whose answer it waits for, as a right secret's
    /// lease request may: [`Error::WrongSecret`], or the `429` a right secret gets when the
    /// client is under guard for this source (this failure may be the one that put it there).
    /// Without an answer, [`Error::WrongSecret`].
    ///
    /// A client whose secrets were all generated cannot be guessed, so its failures are
    /// first counted per source prefix at the client gate, without the object: within the
    /// gate's budget the answer is [`Error::WrongSecret`] at once; the failure over it goes to
    /// the object as a trip, which guards the prefix.
    pub async fn wrong_secret(
        &self,
        guard: &str,
        limit: Limit,
        guessable: bool,
        now: u64,
    ) -> Error {
        self.report_failure(now);
        let prefix = self.source.prefix();
        let gate = if guessable {
            Gate::Absent
        } else {
            self.backend
                .client_gate(&client_gate_key(guard, prefix))
                .await
        };
        if gate == Gate::Within {
            return Error::WrongSecret;
        }
        let report = FailureReport {
            prefix: prefix.to_owned(),
            guessable,
            tripped: gate == Gate::Over,
        };
        let Ok(view) = self.backend.client_failure(guard, &report).await else {
            return Error::WrongSecret;
        };
        let now = now.max(self.backend.now_ms());
        let mut cache = self.cache.borrow_mut();
        cache.prune(now);
        let cached = cache
            .clients
            .entry(guard.to_owned())
            .and_modify(|c| c.take_guard(&view))
            .or_insert_with(|| CachedView::new(view, limit, now));
        match cached.guarded(now, &self.source) {
            Some(until) => throttled(until - now),
            None => Error::WrongSecret,
        }
    }

    /// Spends a token request's `jti`s (`spends`) in the client's object, which alone can
    /// tell a replay, in one request; each one's outcome, in order
    /// ([`Spent::result`]: never accepted unchecked). With the `admission` the request will
    /// pass [`Limiter::admit`], when the cached view would have `admit` ask the object (it is
    /// stale, or its lease is spent), the lease request goes along and the answer's view is
    /// taken in: `admit` then decides from it without a second round trip.
    pub async fn spend(
        &self,
        guard: &str,
        spends: Vec<SpendRequest>,
        admission: Option<Admission<'_>>,
    ) -> Result<Vec<Spent>, Error> {
        let now = self.backend.now_ms();
        let asks = |_: &Admission| {
            let cache = self.cache.borrow();
            cache.clients.get(guard).is_none_or(|c| c.would_ask(now))
        };
        let admission = admission.filter(asks);
        let lease = admission
            .map(|a| self.lease_request(guard, (a.limit, a.quota), a.lease_key, now, true));
        let batch = SpendBatch { spends, lease };
        let answer = (self.backend.spend(guard, &batch).await)
            .map_err(|Unavailable| Error::GuardUnavailable)?;
        if answer.spent.len() != batch.spends.len() {
            return Err(Error::GuardUnavailable);
        }
        if let (Some(view), Some(admission)) = (answer.view, admission) {
            let now = now.max(self.backend.now_ms());
            self.take_view(guard, view, admission.limit, now);
        }
        Ok(answer.spent)
    }

    /// Whether the token just admitted for the client came from a lease over a monitored
    /// quota (for the log line).
    pub fn over_quota(&self, guard: &str) -> bool {
        let cache = self.cache.borrow();
        cache.clients.get(guard).is_some_and(CachedView::over_quota)
    }

    /// For a client authenticated with the credential `secret_hash` names, by its record of
    /// `version`: revocation, guard, issuance limit and quotas.
    pub async fn admit(
        &self,
        guard: &str,
        (limit, quota): (Limit, &QuotaRequest),
        secret_hash: &str,
        version: u64,
        now: u64,
    ) -> Result<(), Error> {
        let step = match self.cache.borrow_mut().clients.get_mut(guard) {
            Some(cached) => cached.decide(now, &self.source, secret_hash, version),
            None => Step::Ask,
        };
        match self.serve(step, guard, (limit, quota), secret_hash) {
            Some(answer) => answer,
            None => {
                self.ask(guard, (limit, quota), secret_hash, version, now)
                    .await
            }
        }
    }

    /// Carries out a step decided without the object: serves (starting a background refresh
    /// if the step asks for one) or refuses. `None` when the step is to ask the object.
    fn serve(
        &self,
        step: Step,
        guard: &str,
        policy: (Limit, &QuotaRequest),
        secret_hash: &str,
    ) -> Option<Result<(), Error>> {
        match step {
            Step::Serve { refresh } => {
                if refresh {
                    self.refresh_in_background(guard, policy, secret_hash);
                }
                Some(Ok(()))
            }
            Step::Refuse(error) => Some(Err(error)),
            Step::Ask => None,
        }
    }

    /// What to ask a client's object for at `now`: what the isolate's pace needs (plus one
    /// token when a request is `waiting`), giving back what it holds beyond that
    /// ([`CachedView::lease_amounts`]); one token when it has no view of the client yet. The
    /// sources this isolate served since it last asked go along, to be learnt as good.
    fn lease_request(
        &self,
        guard: &str,
        (limit, quota): (Limit, &QuotaRequest),
        secret_hash: &str,
        now: u64,
        waiting: bool,
    ) -> LeaseRequest {
        let mut cache = self.cache.borrow_mut();
        let cached = cache.clients.get_mut(guard);
        let start = (u64::from(waiting), 0, Vec::new(), 0);
        let (want, returned, seen, returned_hour) = cached.map_or(start, |c| {
            let (want, returned) = c.lease_amounts(now, waiting);
            (want, returned, c.take_seen(), c.lease_hour())
        });
        LeaseRequest {
            per_minute: limit.per_minute,
            burst: limit.burst,
            want,
            returned,
            source: self
                .source
                .has_address()
                .then(|| self.source.key().to_owned()),
            prefix: Some(self.source.prefix().to_owned()),
            seen,
            secret_hash: secret_hash.to_owned(),
            quota: QuotaRequest {
                returned_hour,
                ..quota.clone()
            },
        }
    }

    /// Asks the object and decides from its answer, or without it when it cannot be asked.
    async fn ask(
        &self,
        guard: &str,
        policy: (Limit, &QuotaRequest),
        secret_hash: &str,
        version: u64,
        now: u64,
    ) -> Result<(), Error> {
        let limit = policy.0;
        let request = self.lease_request(guard, policy, secret_hash, now, true);
        let answer = self.backend.lease(guard, &request).await;
        let now = now.max(self.backend.now_ms());
        let source = &self.source;
        let Ok(view) = answer else {
            let mut cache = self.cache.borrow_mut();
            cache.prune(now);
            return match cache.clients.get_mut(guard) {
                Some(cached) => cached.decide_without_object(now, source, secret_hash, version),
                None => Err(Error::GuardUnavailable),
            };
        };
        let mut cached = self.take_view(guard, view, limit, now);
        let step = cached.decide(now, source, secret_hash, version);
        let empty = cached.rate_limited(cached.view.wait_ms);
        drop(cached);
        // Asking again after a fresh answer: it granted nothing.
        self.serve(step, guard, policy, secret_hash)
            .unwrap_or(Err(empty))
    }

    /// Takes in a lease's answer received at `now`: merged into the client's view, or its
    /// first view, which it returns.
    fn take_view(
        &self,
        guard: &str,
        view: ClientView,
        limit: Limit,
        now: u64,
    ) -> RefMut<'_, CachedView> {
        RefMut::map(self.cache.borrow_mut(), |cache| {
            cache.prune(now);
            cache
                .clients
                .entry(guard.to_owned())
                .and_modify(|c| c.merge(view.clone(), limit, now))
                .or_insert_with(|| CachedView::new(view, limit, now))
        })
    }

    /// Tops the lease up and takes in the newer view after the answer, without delaying it.
    fn refresh_in_background(
        &self,
        guard: &str,
        policy: (Limit, &QuotaRequest),
        secret_hash: &str,
    ) {
        let now = self.backend.now_ms();
        let limit = policy.0;
        let request = self.lease_request(guard, policy, secret_hash, now, false);
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
