//! The token endpoint as a checklist: parse → authenticate → allow → scope → limit → mint.
//!
//! Pure: the client store and the guard objects are traits, and the time and the token id's
//! random bytes are passed in.

use std::{borrow::Cow, rc::Rc};

use serde::Serialize;

use super::{
    assertion::{Assertion, Check},
    audience::{self, Requested},
    binding::Binding,
    claims::Extra,
    client::{guard_name, is_valid_client_id, Client, RecordCache},
    cold::cold,
    config::Tenant,
    dpop::{self, ProofCheck, SpentEarly},
    error::{Error, Wire},
    federation::{self, Federation, IssuerKeys, FEDERATED_JWT},
    guard::{tenant_guard_name, Admission, Backend, Limiter, QuotaRequest, SpendRequest},
    jwk::{Alg, ClientKeys, KeySource, Verifier},
    jwks_cache::{self, JwksCache, JwksFetcher},
    keys::KeySet,
    mtls,
    record::PRIVATE_KEY_JWT,
    request::{attempts_basic, Credential, HttpRequest, TokenRequest},
    scope::{self, Grant, Scopes},
    secret::Pepper,
    sign::Signer,
    unknown::UnknownIds,
};

/// Random bytes in a token id: 128 bits (RFC 9068 §2.2 asks for enough to avoid collisions).
pub const JTI_BYTES: usize = 16;
/// The JOSE `typ` of an RFC 9068 access token.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The store was unreachable; the request may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreUnavailable;

/// Where client records come from. Only the edge implements it over KV; tests use fakes.
#[allow(async_fn_in_trait)] // Workers are single-threaded: no `Send` bound wanted.
pub trait ClientStore {
    /// The stored JSON record of `client_id` in `tenant`, or `None` when there is none.
    async fn record(
        &self,
        tenant: &str,
        client_id: &str,
    ) -> Result<Option<String>, StoreUnavailable>;
}

/// The RFC 6749 §5.1 success body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    /// The signed JWT.
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a DPoP-bound token ([`Binding::token_type`]).
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// The granted scope, when it differs from the requested one (or always, if the tenant
    /// says so).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// What became of a request: the presented client id (for the log) and the answer.
#[derive(Debug)]
pub struct Outcome {
    /// The client id the caller presented, if the request got that far.
    pub client_id: Option<String>,
    /// The token, or why not.
    pub result: Result<TokenResponse, Error>,
}

/// `aud`: a string when there is one audience, an array otherwise (RFC 7519 §4.1.3).
#[derive(Serialize)]
#[serde(untagged)]
enum Audience<'a> {
    One(&'a str),
    Many(&'a [String]),
}

/// RFC 9068 §2.2 claims, then the tenant's and the client's static claims. `scope` is left
/// out of a token granted no scope (an omitted scope under `omitted_scope = "none"`).
#[derive(Serialize)]
struct AccessTokenClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: Audience<'a>,
    client_id: &'a str,
    #[serde(skip_serializing_if = "String::is_empty")]
    scope: String,
    iat: u64,
    exp: u64,
    jti: String,
    /// The key the token is bound to, if any (RFC 7800 `cnf`).
    #[serde(skip_serializing_if = "Option::is_none")]
    cnf: Option<&'a Binding>,
    #[serde(flatten)]
    extra: Extra<'a>,
}

/// What a token is for: its audiences and its grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape<'a> {
    /// Its `aud`.
    pub audience: Cow<'a, [String]>,
    /// Its scopes, and whether the answer names them.
    pub grant: Grant,
}

/// What a token is minted with, beside its client: its audiences, scopes and binding, the
/// time (Unix seconds) and its id's random bytes.
struct Minted<'a> {
    audience: &'a [String],
    scopes: &'a Scopes,
    binding: Option<&'a Binding>,
    now: u64,
    jti: [u8; JTI_BYTES],
}

/// A client that authenticated: its record, its guard object, its limit, and the key its
/// lease requests carry (its secret's hash, or [`PRIVATE_KEY_JWT`]).
#[derive(Debug)]
pub struct Caller {
    /// Its record.
    pub client: Rc<Client>,
    /// The name of its guard object.
    pub guard: String,
    /// Its issuance limit (its own, or its tenant's).
    pub limit: super::limit::Limit,
    /// What [`Limiter::admit`] checks for revocation.
    pub lease_key: String,
    /// The request's DPoP proof, if it has one that may bind the token: spent with the
    /// authentication ([`SpentEarly`]), or why it could not be read ([`dpop::check`] answers it).
    pub proof: Option<Result<SpentEarly, Error>>,
}

/// One tenant's issuer, as an isolate keeps it across requests: its configuration, keys, the
/// pepper, and the client records it read recently.
#[derive(Debug)]
pub struct Issuer {
    /// The tenant: issuer URL, paths, policies.
    pub tenant: Tenant,
    /// Its signing keys (shared with the tenants that name the same secret).
    pub keys: Rc<KeySet>,
    /// The HMAC key of client secrets.
    pub pepper: Rc<Pepper>,
    /// Client records read recently ([`crate::core::client::RECORD_TTL_MS`]).
    pub records: RecordCache,
    /// Ids the store said recently do not exist ([`crate::core::unknown::UNKNOWN_ID_TTL_MS`]).
    pub unknown: UnknownIds,
    /// Key sets fetched from clients' `jwks_uri`s ([`crate::core::jwks_cache`]).
    pub jwks: JwksCache,
}

impl Issuer {
    /// How `error` is answered at this tenant, given the request's `Authorization` header.
    pub fn wire(&self, error: Error, authorization: Option<&str>) -> Wire {
        error.wire().with_invalid_client_status(
            self.tenant.invalid_client_status,
            attempts_basic(authorization),
        )
    }

    /// Handles one token request at Unix time `now_ms` (milliseconds), with `jti` random
    /// bytes; a token is signed by `signer`, which also verifies client assertions and fetches
    /// their keys from a `jwks_uri`.
    pub async fn issue<S: ClientStore, B: Backend, K: Signer + Verifier + JwksFetcher>(
        &self,
        store: &S,
        limiter: &Limiter<B>,
        signer: &K,
        http: &HttpRequest<'_>,
        now_ms: u64,
        jti: [u8; JTI_BYTES],
    ) -> Outcome {
        let request = limiter
            .check_source(now_ms)
            .and_then(|()| TokenRequest::parse(http));
        match request {
            Ok(request) => Outcome {
                client_id: Some(request.client_id.clone()),
                result: self
                    .grant(store, limiter, signer, &request, now_ms, jti)
                    .await,
            },
            Err(error) => {
                // A malformed assertion names no client it could count against.
                if matches!(error, Error::Assertion(_)) {
                    limiter.report_failure(now_ms);
                }
                Outcome {
                    client_id: None,
                    result: Err(error),
                }
            }
        }
    }

    async fn grant<S: ClientStore, B: Backend, K: Signer + Verifier + JwksFetcher>(
        &self,
        store: &S,
        limiter: &Limiter<B>,
        signer: &K,
        request: &TokenRequest,
        now_ms: u64,
        jti: [u8; JTI_BYTES],
    ) -> Result<TokenResponse, Error> {
        let now = now_ms / 1000;
        let Caller {
            client,
            guard,
            limit,
            lease_key,
            proof,
        } = self
            .authenticated(store, limiter, signer, request, now_ms)
            .await?;
        if !client.client_credentials_allowed {
            return Err(Error::GrantNotAllowed);
        }
        if client.disabled {
            return Err(Error::ClientDisabled);
        }
        let Shape { audience, grant } =
            self.shape(&client, &request.targets, request.scope.as_deref())?;
        let binding = self.binding(signer, &client, request, proof).await?;
        // Last before minting, so only a token actually issued spends the client's quota (a
        // lease a jti's spend brought back is held ahead of use, as any: `Issuer::spend`).
        let quota = self.quota_request(&client);
        limiter
            .admit(&guard, (limit, &quota), &lease_key, client.version, now_ms)
            .await?;
        let minted = Minted {
            audience: &audience,
            scopes: &grant.scopes,
            binding: binding.as_ref(),
            now,
            jti,
        };
        let access_token = self.mint(signer, &client, minted).await?;
        Ok(TokenResponse {
            access_token,
            token_type: Binding::token_type(binding.as_ref()),
            expires_in: client.token_ttl,
            scope: ((grant.echo || self.tenant.always_return_scope) && !grant.scopes.is_empty())
                .then(|| grant.scopes.to_scope_string()),
        })
    }

    /// The key the token will be bound to, if any (`core::binding`): decided from what the
    /// request presents and what the client's record requires. A token is bound to one key
    /// at most (docs/sender-constrained.md): a DPoP proof's ([`dpop::check`]; required when the
    /// record says `dpop_bound_access_tokens`), or the connection's certificate when the record
    /// asks for certificate-bound tokens ([`mtls::bound_to`]: RFC 8705 §3; refused without
    /// one, never issued unbound). A proof from a client whose record asks for
    /// certificate-bound tokens is refused ([`Error::TwoBindings`]) before it is checked; any
    /// other was read and spent `early` ([`Issuer::spend`]) and is checked with its outcome.
    async fn binding<K: Verifier>(
        &self,
        verifier: &K,
        client: &Client,
        request: &TokenRequest,
        early: Option<Result<SpentEarly, Error>>,
    ) -> Result<Option<Binding>, Error> {
        if request.dpop.is_some() && client.certificate_bound {
            return Err(Error::TwoBindings);
        }
        match early {
            Some(proof) => cold(dpop::check(verifier, proof)).await.map(Some),
            None if client.dpop_bound_access_tokens => Err(Error::Dpop(ProofCheck::Required)),
            None if client.certificate_bound => {
                mtls::bound_to(request.certificate.as_ref()).map(Some)
            }
            None => Ok(None),
        }
    }

    /// The quotas a lease for `client` counts against: its own and its tenant's.
    pub fn quota_request(&self, client: &Client) -> QuotaRequest {
        QuotaRequest {
            client: client.quota,
            tenant: (self.tenant.quota).map(|q| (tenant_guard_name(&self.tenant.name), q)),
            returned_hour: 0,
        }
    }

    /// Finds and authenticates the requesting client, counting a failure where the token
    /// endpoint does (unknown client, wrong secret, refused assertion): the first steps of
    /// every endpoint that authenticates clients. Disabled or lacking a grant is for the
    /// caller to decide; so is [`Limiter::admit`], with the [`Caller`]'s lease key.
    pub async fn authenticated<S: ClientStore, B: Backend, K: Verifier + JwksFetcher>(
        &self,
        store: &S,
        limiter: &Limiter<B>,
        verifier: &K,
        request: &TokenRequest,
        now_ms: u64,
    ) -> Result<Caller, Error> {
        let guard = guard_name(&self.tenant.name, &request.client_id);
        let client = match self.find_client(store, request, now_ms).await {
            Ok(client) => client,
            Err(error) => {
                if error == Error::UnknownClient {
                    limiter.report_failure(now_ms);
                }
                return Err(error);
            }
        };
        let limit = client.limit.unwrap_or(self.tenant.rate_limit);
        // Under guard, the same answer whatever the secret: decided before it is hashed.
        limiter.gate(&guard, now_ms)?;
        let checked = match self.authenticate(verifier, &client, request, now_ms).await {
            Ok((lease_key, assertion)) => {
                let caller = (guard.as_str(), client.as_ref(), limit);
                let spent = self.spend(limiter, caller, request, assertion, &lease_key, now_ms);
                spent.await.map(|proof| (lease_key, proof))
            }
            Err(error) => Err(error),
        };
        match checked {
            Ok((lease_key, proof)) => Ok(Caller {
                client,
                guard,
                limit,
                lease_key,
                proof,
            }),
            Err(error @ (Error::WrongSecret | Error::Assertion(_) | Error::Certificate(_))) => {
                let guessable = client.guessable(now_ms / 1000);
                let verdict = limiter.wrong_secret(&guard, limit, guessable, now_ms).await;
                // The client's object may answer that it is now under guard (a 429).
                Err(if verdict == Error::WrongSecret {
                    error
                } else {
                    verdict
                })
            }
            Err(error) => Err(error),
        }
    }

    /// Authenticates the client by the one method its record names: the hash of its secret,
    /// [`PRIVATE_KEY_JWT`] for an assertion, or the mutual-TLS method's name for a certificate
    /// (`core::mtls`): what its object's lease requests carry. An assertion's `jti` is still
    /// to be spent ([`Issuer::spend`]).
    async fn authenticate<K: Verifier + JwksFetcher>(
        &self,
        verifier: &K,
        client: &Client,
        request: &TokenRequest,
        now_ms: u64,
    ) -> Result<(String, Option<SpendRequest>), Error> {
        match (&request.credential, &client.keys, &client.federation) {
            (Credential::Secret(secret), None, None) => client
                .authenticate(&self.pepper, secret, now_ms / 1000)
                .map(|hash| (hash.encode(), None))
                .ok_or(Error::WrongSecret),
            (Credential::Assertion(assertion), Some(_), None) => {
                cold(async {
                    self.check_assertion(verifier, client, assertion, now_ms)
                        .await?;
                    Ok((PRIVATE_KEY_JWT.to_owned(), Some(spend_request(assertion))))
                })
                .await
            }
            (Credential::Assertion(token), None, Some(accepts)) => {
                cold(async {
                    self.check_federated(verifier, accepts, token, now_ms)
                        .await?;
                    // A platform token without a jti (a SPIFFE JWT-SVID, say) cannot be spent.
                    let spend = token.claims.jti.is_some().then(|| spend_request(token));
                    Ok((FEDERATED_JWT.to_owned(), spend))
                })
                .await
            }
            (Credential::TlsClient, None, None) => {
                // A client id alone is no credential for a client of another method.
                let auth = client.mtls.as_ref().ok_or(Error::NoCredentials)?;
                auth.check(request.certificate.as_ref())
                    .map_err(Error::Certificate)?;
                Ok((auth.method().to_owned(), None))
            }
            _ => Err(Error::Assertion(Check::MethodMismatch)),
        }
    }

    /// Spends the `jti`s of an authenticated request in the client's object, each once: its
    /// assertion's (refused as a replay here, as an authentication failure) and its DPoP
    /// proof's, read but not yet verified (its outcome, or why the proof could not be read,
    /// waits for [`dpop::check`], so the answers come in today's order). One request, which
    /// also brings back the lease [`Limiter::admit`] will need, when the isolate's view cannot
    /// decide alone; a lease so granted to a request a later check refuses stays in the
    /// isolate's lease, for its next requests or given back, as any lease. A proof of a client
    /// whose record asks for certificate-bound tokens is left unread and unspent (refused by
    /// [`Issuer::binding`]).
    async fn spend<B: Backend>(
        &self,
        limiter: &Limiter<B>,
        (guard, client, limit): (&str, &Client, super::limit::Limit),
        request: &TokenRequest,
        assertion: Option<SpendRequest>,
        lease_key: &str,
        now_ms: u64,
    ) -> Result<Option<Result<SpentEarly, Error>>, Error> {
        let at = dpop::At {
            tenant: &self.tenant,
            pepper: &self.pepper,
            now_ms,
        };
        let proof = (request.dpop.as_ref())
            .filter(|_| !client.certificate_bound)
            .map(|input| dpop::read(input, &at));
        let has_assertion = assertion.is_some();
        let spends: Vec<_> = (assertion.into_iter())
            .chain(
                proof
                    .as_ref()
                    .and_then(|p| p.as_ref().ok())
                    .map(dpop::spend_request),
            )
            .collect();
        let spent = if spends.is_empty() {
            Vec::new()
        } else {
            let quota = self.quota_request(client);
            let admission = (!client.disabled).then_some(Admission {
                limit,
                quota: &quota,
                lease_key,
            });
            limiter.spend(guard, spends, admission).await?
        };
        if let (true, Some(first)) = (has_assertion, spent.first()) {
            first.result(Error::Assertion(Check::Replayed))?;
        }
        // `Limiter::spend` answers every jti, so a proof's outcome is the last.
        let last = spent.last().copied();
        Ok(proof.map(|read| {
            let proof = read?;
            let spent = last.ok_or(Error::GuardUnavailable)?;
            Ok(SpentEarly { proof, spent })
        }))
    }

    /// Every check of an assertion but the `jti`'s single use: header, signature, claims.
    async fn check_assertion<K: Verifier + JwksFetcher>(
        &self,
        verifier: &K,
        client: &Client,
        assertion: &Assertion,
        now_ms: u64,
    ) -> Result<(), Error> {
        let source = client
            .keys
            .as_ref()
            .ok_or(Error::Assertion(Check::MethodMismatch))?;
        assertion
            .check_alg(source.alg())
            .map_err(Error::Assertion)?;
        let fetched;
        let keys = match source {
            KeySource::Inline(keys) => keys,
            KeySource::Uri { uri, alg } => {
                fetched = self
                    .fetched_keys(verifier, uri, *alg, assertion, now_ms)
                    .await?;
                &fetched
            }
        };
        verify_signature(verifier, keys, assertion).await?;
        let audiences = [
            self.tenant.issuer.as_str(),
            self.tenant.token_endpoint.as_str(),
        ];
        assertion
            .check_claims(&client.id, &audiences, now_ms / 1000)
            .map_err(Error::Assertion)
    }

    /// A federated client's platform token (`core::federation`): from the trusted issuer the
    /// client names, signed by one of its keys with one of its algorithms, for the client's
    /// subject and claims.
    async fn check_federated<K: Verifier + JwksFetcher>(
        &self,
        verifier: &K,
        accepts: &Federation,
        token: &Assertion,
        now_ms: u64,
    ) -> Result<(), Error> {
        let iss = token.claims.iss.as_deref();
        let trusted = self
            .tenant
            .trusted_issuers
            .iter()
            .find(|t| t.name == accepts.issuer && iss == Some(t.issuer.as_str()))
            .ok_or(Error::Assertion(Check::IssuerNotTrusted))?;
        let alg = federation::check_header(token, trusted).map_err(Error::Assertion)?;
        let keys = match &trusted.keys {
            IssuerKeys::Inline(keys) => ClientKeys::of_remote(keys, alg),
            IssuerKeys::Uri(uri) => self.fetched_keys(verifier, uri, alg, token, now_ms).await?,
        };
        verify_signature(verifier, &keys, token).await?;
        federation::check_claims(token, trusted, accepts, now_ms / 1000).map_err(Error::Assertion)
    }

    /// The keys of `alg` at a client's `jwks_uri`, from the isolate's cache or fetched
    /// ([`jwks_cache`]'s policy); 503 when there are none to use.
    async fn fetched_keys<F: JwksFetcher>(
        &self,
        fetcher: &F,
        uri: &str,
        alg: Alg,
        assertion: &Assertion,
        now_ms: u64,
    ) -> Result<ClientKeys, Error> {
        let kid = assertion.header.kid.as_deref();
        let has_key = |keys: &[_]| ClientKeys::of_remote(keys, alg).select(kid).is_some();
        jwks_cache::keys_for(&self.jwks, fetcher, uri, has_key, now_ms)
            .await
            .map(|keys| ClientKeys::of_remote(&keys, alg))
            .map_err(|retry_after| Error::JwksUnavailable { retry_after })
    }

    /// The token's audiences (from `targets`, else the client's defaults) and the scopes it
    /// is granted among those its audiences may carry (the tenant's resource servers).
    pub fn shape<'c>(
        &self,
        client: &'c Client,
        targets: &Requested,
        scope: Option<&str>,
    ) -> Result<Shape<'c>, Error> {
        let audience = audience::select(targets, &client.audience, &client.default_audience)?;
        let servers = &self.tenant.resource_servers;
        let allowed = audience::scopes_for(servers, &audience, &client.scopes);
        let defaults = audience::scopes_for(servers, &audience, &client.default_scopes);
        let grant = scope::decide(scope, &allowed, &defaults, &self.tenant.scope)?;
        Ok(Shape { audience, grant })
    }

    /// The `scope` a request with no other parameter must name to get this client a token:
    /// `None` when one without `scope` gets one, else every scope it may be granted for its
    /// default audiences (the operator CLI's "try it" line). `None` too when no scope works.
    pub fn try_scope(&self, client: &Client) -> Option<String> {
        let targets = Requested::default();
        if self.shape(client, &targets, None).is_ok() {
            return None;
        }
        let audience = audience::select(&targets, &client.audience, &client.default_audience);
        let servers = &self.tenant.resource_servers;
        let scope =
            audience::scopes_for(servers, &audience.ok()?, &client.scopes).to_scope_string();
        self.shape(client, &targets, Some(&scope))
            .is_ok()
            .then_some(scope)
    }

    /// Finds the client: in the isolate's cache, else in the store. An unknown client costs
    /// the same hash as a known one, and both failures give the same answer.
    async fn find_client<S: ClientStore>(
        &self,
        store: &S,
        request: &TokenRequest,
        now_ms: u64,
    ) -> Result<Rc<Client>, Error> {
        if let Some(client) = self.records.get(&request.client_id, now_ms) {
            return Ok(client);
        }
        let client = Rc::new(self.read_client(store, request, now_ms).await?);
        self.records.insert(client.clone(), now_ms);
        Ok(client)
    }

    /// Reads and validates a record from the store. An invalid id, or one the store recently
    /// said is absent, costs no read.
    async fn read_client<S: ClientStore>(
        &self,
        store: &S,
        request: &TokenRequest,
        now_ms: u64,
    ) -> Result<Client, Error> {
        let id = &request.client_id;
        let record = if is_valid_client_id(id) && !self.unknown.contains(id, now_ms) {
            let record = store
                .record(&self.tenant.name, id)
                .await
                .map_err(|StoreUnavailable| Error::StoreUnavailable)?;
            if record.is_none() {
                self.unknown.insert(id, now_ms);
            }
            record
        } else {
            None
        };
        let Some(record) = record else {
            if let Some(secret) = request.secret() {
                std::hint::black_box(self.pepper.hash(secret));
            }
            return Err(Error::UnknownClient);
        };
        Client::from_json(id, &record)
    }

    /// The signed access token: its RFC 9068 claims, its binding and the static claims,
    /// signed with the tenant's key.
    async fn mint<K: Signer>(
        &self,
        signer: &K,
        client: &Client,
        minted: Minted<'_>,
    ) -> Result<String, Error> {
        use base64ct::{Base64UrlUnpadded, Encoding};
        let Minted {
            audience,
            scopes,
            binding,
            now,
            jti,
        } = minted;
        let aud = match audience {
            [one] => Audience::One(one),
            many => Audience::Many(many),
        };
        let claims = AccessTokenClaims {
            iss: &self.tenant.issuer,
            sub: &client.id,
            aud,
            client_id: &client.id,
            scope: scopes.to_scope_string(),
            iat: now,
            exp: now + client.token_ttl,
            jti: Base64UrlUnpadded::encode_string(&jti),
            cnf: binding,
            extra: Extra {
                tenant: &self.tenant.claims,
                client: &client.claims,
            },
        };
        self.keys
            .sign(signer, ACCESS_TOKEN_TYP, claims)
            .await
            .map_err(|_| Error::BadKeyMaterial)
    }
}

/// The signature's check: the header names a key of `keys` (its `kid`), which verifies it.
async fn verify_signature<K: Verifier>(
    verifier: &K,
    keys: &ClientKeys,
    assertion: &Assertion,
) -> Result<(), Error> {
    let index = assertion.check_header(keys).map_err(Error::Assertion)?;
    let key = keys.keys.get(index).ok_or(Error::BadClientRecord)?;
    let input = assertion.signing_input.as_bytes();
    match verifier.verify(key, input, &assertion.signature).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(Error::Assertion(Check::Signature)),
        Err(_) => Err(Error::BadClientRecord),
    }
}

/// The spend of an assertion's `jti` in the client's object (single use until its `exp`).
fn spend_request(assertion: &Assertion) -> SpendRequest {
    SpendRequest {
        jti: assertion.jti_digest(),
        until_ms: assertion.remember_until_ms(),
    }
}
