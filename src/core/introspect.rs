//! Introspection (RFC 7662) and revocation (RFC 7009) as checklists (docs/introspection.md):
//! parse → authenticate (as at the token endpoint) → allow → limit → read the token → ask its
//! client's guard object.
//!
//! Pure: the client store, the guard objects and the signature check are traits, and the
//! time is passed in. A token that is not active is answered `{"active":false}` (or, at the
//! revocation endpoint, the same `200` as a revoked one); the reason goes to the log only.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    assertion::compact_parts,
    binding::Binding,
    client::guard_name,
    config::Endpoint,
    error::Error,
    guard::{
        tokens::{TokenLedger, TokenQuery, TokenStatus, MAX_JTI_CHARS},
        Backend, Limiter,
    },
    jwk::Verifier,
    jwks_cache::JwksFetcher,
    keys::ALGORITHM,
    request::{HttpRequest, TokenRequest},
    token::{ClientStore, Issuer, ACCESS_TOKEN_TYP},
};

/// The longest token read; ours are well under 2 KiB even with static claims.
pub const MAX_TOKEN_CHARS: usize = 6 * 1024;

/// Why a token is not active: the log's `reason`, never the caller's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inactive {
    /// Not a compact JWS of JSON objects, too long, or without the claims ours have.
    Malformed,
    /// Its header is not ours: another `typ` or `alg`, or no `kid`.
    Header,
    /// Its `kid` is not among the tenant's published keys (another issuer's, or retired).
    UnknownKey,
    /// The signature does not verify.
    Signature,
    /// Its `iss` is not this tenant's issuer.
    OtherIssuer,
    /// Its `exp` has passed.
    Expired,
    /// Its client revoked it.
    Revoked,
    /// Its client is disabled or deleted.
    ClientDisabled,
    /// At the revocation endpoint: another client's token, left alone.
    OtherClient,
}

impl Inactive {
    /// The log's name of the reason.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "token_malformed",
            Self::Header => "token_header",
            Self::UnknownKey => "token_unknown_kid",
            Self::Signature => "token_signature",
            Self::OtherIssuer => "token_issuer",
            Self::Expired => "token_expired",
            Self::Revoked => "token_revoked",
            Self::ClientDisabled => "token_client_disabled",
            Self::OtherClient => "token_of_another_client",
        }
    }
}

/// The header members a token of ours has.
#[derive(Deserialize)]
struct Header {
    alg: String,
    typ: Option<String>,
    kid: Option<String>,
}

/// What an active token is answered: its RFC 9068 claims and `token_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Active {
    /// Its scopes; absent for a token granted none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client it was issued to.
    pub client_id: String,
    /// `DPoP` for a DPoP-bound token (RFC 9449 §6.2), else `Bearer` (RFC 6749 §7.1).
    #[serde(default = "bearer")]
    pub token_type: String,
    /// Unix seconds when it expires.
    pub exp: u64,
    /// Unix seconds when it was issued.
    pub iat: u64,
    /// Its subject (the client id).
    pub sub: String,
    /// Its audiences: a string or an array of strings, as in the token.
    pub aud: Value,
    /// Its issuer.
    pub iss: String,
    /// Its id.
    pub jti: String,
    /// The key it is bound to, if any (RFC 8705 §3.2, RFC 9449 §6.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Binding>,
}

fn bearer() -> String {
    "Bearer".to_owned()
}

/// The RFC 7662 §2.2 answer: `{"active": false}`, or `true` and the token's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Introspection {
    /// Whether the token is active.
    pub active: bool,
    /// When active, its claims.
    #[serde(flatten)]
    pub token: Option<Active>,
}

/// What an introspection or revocation became: the body, and what the log says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The `200` body.
    pub body: String,
    /// The log's `outcome`: `active`, `inactive`, `revoked` or `ignored`.
    pub outcome: &'static str,
    /// Why a token was inactive or left alone.
    pub inactive: Option<Inactive>,
}

impl Answer {
    fn active(token: Active) -> Self {
        let body = Introspection {
            active: true,
            token: Some(token),
        };
        Self {
            body: serde_json::to_string(&body).unwrap_or_default(),
            outcome: "active",
            inactive: None,
        }
    }

    fn inactive(why: Inactive) -> Self {
        Self {
            body: r#"{"active":false}"#.to_owned(),
            outcome: "inactive",
            inactive: Some(why),
        }
    }

    /// RFC 7009 §2.2: the same `200` whether the token was revoked or left alone.
    fn revoked(ignored: Option<Inactive>) -> Self {
        Self {
            body: "{}".to_owned(),
            outcome: if ignored.is_some() {
                "ignored"
            } else {
                "revoked"
            },
            inactive: ignored,
        }
    }
}

/// What became of a request: the presented client id (for the log) and the answer.
#[derive(Debug)]
pub struct TokenOutcome {
    /// The client id the caller presented, if the request got that far.
    pub client_id: Option<String>,
    /// The answer, or why not.
    pub result: Result<Answer, Error>,
}

/// A base64url part decoded as JSON into `T`.
fn part<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, Inactive> {
    let bytes = Base64UrlUnpadded::decode_vec(part).map_err(|_| Inactive::Malformed)?;
    crate::core::json::parse(&bytes).map_err(|_| Inactive::Malformed)
}

/// Whether `aud` has the shape ours have: a string, or an array of strings.
fn is_audience(aud: &Value) -> bool {
    match aud {
        Value::String(_) => true,
        Value::Array(values) => !values.is_empty() && values.iter().all(Value::is_string),
        _ => false,
    }
}

impl Issuer {
    /// Reads `token` as an access token of this tenant, active at `now` (Unix seconds): its
    /// header ours, signed by one of the tenant's published keys, its issuer the tenant's,
    /// not expired. Revocation and the client's status are the object's ([`Self::answer`]).
    pub async fn read_token<K: Verifier>(
        &self,
        verifier: &K,
        token: &str,
        now: u64,
    ) -> Result<Active, Inactive> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(Inactive::Malformed);
        }
        let (header, claims, signature) = compact_parts(token).ok_or(Inactive::Malformed)?;
        let head: Header = part(header)?;
        if head.alg != ALGORITHM || head.typ.as_deref() != Some(ACCESS_TOKEN_TYP) {
            return Err(Inactive::Header);
        }
        let kid = head.kid.ok_or(Inactive::Header)?;
        let key = self.keys.public_key(&kid).ok_or(Inactive::UnknownKey)?;
        let signature =
            Base64UrlUnpadded::decode_vec(signature).map_err(|_| Inactive::Malformed)?;
        let input = &token[..header.len() + 1 + claims.len()];
        match verifier.verify(&key, input.as_bytes(), &signature).await {
            Ok(true) => {}
            _ => return Err(Inactive::Signature),
        }
        let active: Active = part(claims)?;
        if !is_audience(&active.aud) || active.jti.is_empty() || active.jti.len() > MAX_JTI_CHARS {
            return Err(Inactive::Malformed);
        }
        if active.iss != self.tenant.issuer {
            return Err(Inactive::OtherIssuer);
        }
        if active.exp <= now {
            return Err(Inactive::Expired);
        }
        Ok(Active {
            token_type: Binding::token_type(active.cnf.as_ref()).to_owned(),
            ..active
        })
    }

    /// Handles one request to the introspection or revocation `endpoint` at Unix time
    /// `now_ms` (milliseconds).
    pub async fn introspect_or_revoke<S, B, K>(
        &self,
        endpoint: Endpoint,
        store: &S,
        limiter: &Limiter<B>,
        verifier: &K,
        http: &HttpRequest<'_>,
        now_ms: u64,
    ) -> TokenOutcome
    where
        S: ClientStore,
        B: Backend + TokenLedger,
        K: Verifier + JwksFetcher,
    {
        let request = limiter
            .check_source(now_ms)
            .and_then(|()| TokenRequest::parse_at(http, endpoint));
        match request {
            Ok(request) => TokenOutcome {
                client_id: Some(request.client_id.clone()),
                result: self
                    .answer(endpoint, store, limiter, verifier, &request, now_ms)
                    .await,
            },
            Err(error) => {
                if matches!(error, Error::Assertion(_)) {
                    limiter.report_failure(now_ms);
                }
                TokenOutcome {
                    client_id: None,
                    result: Err(error),
                }
            }
        }
    }

    /// The checklist after parsing: the caller authenticated and allowed, its request
    /// admitted by its limit, then the token read and its client's object asked.
    async fn answer<S, B, K>(
        &self,
        endpoint: Endpoint,
        store: &S,
        limiter: &Limiter<B>,
        verifier: &K,
        request: &TokenRequest,
        now_ms: u64,
    ) -> Result<Answer, Error>
    where
        S: ClientStore,
        B: Backend + TokenLedger,
        K: Verifier + JwksFetcher,
    {
        let revoke = endpoint == Endpoint::Revoke;
        let caller = self
            .authenticated(store, limiter, verifier, request, now_ms)
            .await?;
        if caller.client.disabled {
            return Err(Error::ClientDisabled);
        }
        if !revoke && !caller.client.introspect {
            return Err(Error::IntrospectNotAllowed);
        }
        if revoke && request.token_type_hint.as_deref() == Some("refresh_token") {
            return Err(Error::UnsupportedTokenType);
        }
        let (guard, limit) = (&caller.guard, caller.limit);
        // The caller's bucket and quotas, as a token would (RFC 7662 §4: against scanning).
        let quota = self.quota_request(&caller.client);
        let version = caller.client.version;
        limiter
            .admit(guard, (limit, &quota), &caller.lease_key, version, now_ms)
            .await?;
        let token = request.token.as_deref().unwrap_or_default();
        let token = match self.read_token(verifier, token, now_ms / 1000).await {
            Ok(token) => token,
            Err(why) if revoke => return Ok(Answer::revoked(Some(why))),
            Err(why) => return Ok(Answer::inactive(why)),
        };
        if revoke && token.client_id != caller.client.id {
            return Ok(Answer::revoked(Some(Inactive::OtherClient)));
        }
        let query = TokenQuery {
            jti: token.jti.clone(),
            until_ms: token.exp.saturating_mul(1000),
            revoke,
            issued_ms: token.iat.saturating_mul(1000),
        };
        let owner = guard_name(&self.tenant.name, &token.client_id);
        let status = limiter.backend.token_status(&owner, &query).await;
        match (revoke, status) {
            (_, Err(_)) => Err(Error::GuardUnavailable),
            (true, Ok(TokenStatus::Full { retry_after_ms })) => Err(Error::RevocationsFull {
                retry_after: super::limit::retry_after_seconds(retry_after_ms),
            }),
            (true, Ok(_)) => Ok(Answer::revoked(None)),
            (false, Ok(TokenStatus::Live)) => Ok(Answer::active(token)),
            (false, Ok(TokenStatus::Revoked)) => Ok(Answer::inactive(Inactive::Revoked)),
            (false, Ok(TokenStatus::Disabled)) => Ok(Answer::inactive(Inactive::ClientDisabled)),
            // Only a revocation can be refused: an object that says so is not understood.
            (false, Ok(TokenStatus::Full { .. })) => Err(Error::GuardUnavailable),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::{
        future::Future,
        pin::pin,
        task::{Context, Poll, Waker},
    };

    use serde_json::json;

    use super::*;
    use crate::core::{deployment::Deployment, secret::Pepper, sign::NativeSigner};

    /// RFC 8037 A.1's key, and a second one (seed 1…1) that the tenant no longer publishes.
    const KEY: &str = r#"{"kty":"OKP","crv":"Ed25519",
        "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
        "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    const NOW: u64 = 1_800_000_000;

    fn block_on<F: Future>(future: F) -> F::Output {
        match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("nothing here waits"),
        }
    }

    fn retired_key() -> String {
        let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([1; 32]));
        let b64 = |bytes: &[u8]| Base64UrlUnpadded::encode_string(bytes);
        json!({ "kty": "OKP", "crv": "Ed25519", "d": b64(&[1; 32]), "x": b64(pair.pk.as_ref()) })
            .to_string()
    }

    /// Tenants `main` (at the origin) and `other`, signing with `key`.
    fn deployment(key: &str) -> Deployment {
        let keys = format!(r#"{{"keys":[{key}]}}"#);
        let tenants = json!({
            "main": { "token_paths": ["/oauth2/token"] },
            "other": { "issuer_path": "/other", "token_paths": ["/other/token"] },
        });
        Deployment::new(
            "https://a.example",
            &tenants.to_string(),
            Pepper::new("test-pepper-test-pepper-test-pep").unwrap(),
            |_| Some(keys.clone()),
        )
        .unwrap()
    }

    fn claims(iss: &str, exp: u64) -> Value {
        json!({
            "iss": iss, "sub": "svc", "aud": "https://api", "client_id": "svc",
            "scope": "read", "iat": NOW - 10, "exp": exp, "jti": "abc", "tenant_id": "t",
        })
    }

    /// A token signed by `deployment`'s key for `tenant` (its `typ` as given).
    fn signed(deployment: &Deployment, tenant: &str, typ: &str, claims: Value) -> String {
        let issuer = deployment.tenant(tenant).unwrap();
        block_on(issuer.keys.sign(&NativeSigner, typ, claims)).unwrap()
    }

    fn read(token: &str) -> Result<Active, Inactive> {
        let deployment = deployment(KEY);
        let main = deployment.tenant("main").unwrap();
        block_on(main.read_token(&NativeSigner, token, NOW))
    }

    #[test]
    fn a_good_token_is_read_back_with_its_claims_and_bearer_type() {
        let d = deployment(KEY);
        let token = signed(&d, "main", "at+jwt", claims("https://a.example", NOW + 60));
        let active = read(&token).unwrap();
        assert_eq!(active.client_id, "svc");
        assert_eq!(active.token_type, "Bearer");
        assert_eq!(active.scope.as_deref(), Some("read"));
        let body = serde_json::to_value(Introspection {
            active: true,
            token: Some(active),
        })
        .unwrap();
        assert_eq!(body["active"], true);
        assert_eq!(body["aud"], "https://api");
        assert!(
            body.get("tenant_id").is_none(),
            "static claims stay in the token"
        );
        let inactive = serde_json::to_string(&Introspection {
            active: false,
            token: None,
        })
        .unwrap();
        assert_eq!(inactive, r#"{"active":false}"#);
    }

    #[test]
    fn each_kind_of_foreign_or_stale_token_is_inactive_for_its_own_reason() {
        let d = deployment(KEY);
        let good = claims("https://a.example", NOW + 60);
        let expired = signed(&d, "main", "at+jwt", claims("https://a.example", NOW));
        let other_tenant = signed(
            &d,
            "other",
            "at+jwt",
            claims("https://a.example/other", NOW + 60),
        );
        let not_access = signed(&d, "main", "JWT", good.clone());
        let retired = signed(&deployment(&retired_key()), "main", "at+jwt", good.clone());
        let token = signed(&d, "main", "at+jwt", good);
        let (head, rest) = token.split_once('.').unwrap();
        let (_, sig) = rest.rsplit_once('.').unwrap();
        let forged_claims = Base64UrlUnpadded::encode_string(
            claims("https://a.example", NOW + 9_999)
                .to_string()
                .as_bytes(),
        );
        let forged = format!("{head}.{forged_claims}.{sig}");
        for (token, why) in [
            (expired, Inactive::Expired),
            (other_tenant, Inactive::OtherIssuer),
            (not_access, Inactive::Header),
            (retired, Inactive::UnknownKey),
            (forged, Inactive::Signature),
            ("a.b".to_owned(), Inactive::Malformed),
            ("a.b.c.d".to_owned(), Inactive::Malformed),
            ("x".repeat(MAX_TOKEN_CHARS + 1), Inactive::Malformed),
            (String::new(), Inactive::Malformed),
        ] {
            assert_eq!(read(&token), Err(why), "{why:?}");
        }
    }

    #[test]
    fn every_reason_has_its_own_log_name() {
        let all = [
            Inactive::Malformed,
            Inactive::Header,
            Inactive::UnknownKey,
            Inactive::Signature,
            Inactive::OtherIssuer,
            Inactive::Expired,
            Inactive::Revoked,
            Inactive::ClientDisabled,
            Inactive::OtherClient,
        ];
        let mut names: Vec<_> = all.iter().map(|i| i.reason()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }
}
