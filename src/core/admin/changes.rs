//! Every change the admin API makes to a client record, validated as a whole before anything
//! is written: create, update, rotate a secret, retire a secret. Each returns a new record and
//! leaves the one it started from as it was.

use serde_json::Map;

use super::{
    contract::{ClientUpdate, NewClient, Rotation},
    error::AdminError,
    validate::{self, check},
};
use crate::core::{
    client::is_valid_client_id,
    mtls::{SELF_SIGNED_TLS_CLIENT_AUTH, TLS_CLIENT_AUTH},
    record::{Record, SecretEntry, MAX_SECRETS, SCHEMA_VERSION},
    secret::SecretHash,
};

/// The longest overlap a rotation may give the old secret: a year.
pub const MAX_OVERLAP_SECONDS: u64 = 366 * 86_400;
/// The overlap of a rotation that names none: a day.
pub const DEFAULT_OVERLAP_SECONDS: u64 = 86_400;
/// Token lifetime of a new client that names none.
pub const DEFAULT_TOKEN_TTL: u64 = 3_600;

fn broken(client_id: &str) -> AdminError {
    AdminError::fault(format!(
        "the stored record of {client_id:?} breaks the schema; fix it by hand"
    ))
}

impl Record {
    /// Reads the stored record of `client_id`; one that breaks the schema is a fault, never
    /// guessed at. Only the schema: a record the token endpoint accepts is shown and changed,
    /// even if it breaks a policy of new records (such as "at least one scope").
    pub fn read_stored(client_id: &str, json: &str) -> Result<Self, AdminError> {
        let record = Self::parse(json).ok_or_else(|| broken(client_id))?;
        if record.client_id != client_id {
            return Err(AdminError::fault(format!(
                "the stored record of {client_id:?} names another client id"
            )));
        }
        if !record.keeps_the_schema() {
            return Err(broken(client_id));
        }
        Ok(record)
    }

    /// A new record from an operator's input, with the first secret's hash.
    pub fn create(
        input: NewClient,
        generated_id: String,
        first_secret: &SecretHash,
        now: u64,
    ) -> Result<Self, AdminError> {
        let client_id = input.client_id.unwrap_or(generated_id);
        if !is_valid_client_id(&client_id) {
            return Err(AdminError::invalid(
                "client_id must be 1-256 printable ASCII characters",
            ));
        }
        let grants = input
            .grant_types
            .unwrap_or_else(|| vec!["client_credentials".to_owned()]);
        let keyed = validate::auth_method(
            input.token_endpoint_auth_method.as_deref(),
            input.token_endpoint_auth_signing_alg.as_deref(),
            input.jwks.as_ref(),
            input.jwks_uri.as_deref(),
        )?;
        let federated = validate::federation(
            input.token_endpoint_auth_method.as_deref(),
            input.federation.as_ref(),
        )?;
        let mtls = validate::mtls(
            input.token_endpoint_auth_method.as_deref(),
            input.tls_client_auth_subject_dn.as_deref(),
            input.tls_client_certificate_sha256.as_deref(),
        )?;
        let record = Self {
            v: SCHEMA_VERSION,
            client_id,
            // A private_key_jwt, federated_jwt or mutual-TLS client has no secret at all.
            secrets: if keyed.is_some() || federated || mtls.is_some() {
                Vec::new()
            } else {
                vec![SecretEntry::new(first_secret, now)]
            },
            grant_types: validate::grant_list(&grants)?,
            scopes: validate::scope_list("scopes", &input.scopes)?,
            default_scopes: validate::scope_list("default_scopes", &input.default_scopes)?,
            token_ttl: validate::token_ttl(input.token_ttl.unwrap_or(DEFAULT_TOKEN_TTL))?,
            audience: validate::audience_list(&input.audience)?,
            disabled: false,
            rate_limit: input.rate_limit.map(validate::limit).transpose()?,
            quota: input.quota.map(validate::quota).transpose()?,
            token_endpoint_auth_method: input.token_endpoint_auth_method,
            token_endpoint_auth_signing_alg: keyed.map(|alg| alg.name().to_owned()),
            jwks: keyed.and(input.jwks),
            jwks_uri: keyed.and(input.jwks_uri),
            federation: input.federation.filter(|_| federated),
            version: 0,
            default_audience: input
                .default_audience
                .as_deref()
                .map(validate::default_audience)
                .transpose()?,
            claims: validate::claims(input.claims.unwrap_or_default())?,
            created_at: Some(now),
            introspect: input.introspect,
            dpop_bound_access_tokens: input.dpop_bound_access_tokens,
            tls_client_auth_subject_dn: input.tls_client_auth_subject_dn.filter(|_| mtls.is_some()),
            tls_client_certificate_sha256: mtls.unwrap_or_default(),
            tls_client_certificate_bound_access_tokens: input
                .tls_client_certificate_bound_access_tokens,
            extra: Map::new(),
        };
        check(&record)?;
        Ok(record)
    }

    /// A `private_key_jwt` client's new keys: `jwks` or `jwks_uri` (not both), each replacing
    /// the other.
    fn update_keys(
        &mut self,
        jwks: Option<serde_json::Value>,
        jwks_uri: Option<String>,
    ) -> Result<(), AdminError> {
        if jwks.is_none() && jwks_uri.is_none() {
            return Ok(());
        }
        let alg = self.client_keys().flatten().map(|keys| keys.alg());
        let alg =
            alg.ok_or_else(|| AdminError::invalid("jwks: only a private_key_jwt client has keys"))?;
        match (jwks, jwks_uri) {
            (Some(jwks), None) => {
                validate::client_keys(&jwks, alg)?;
                (self.jwks, self.jwks_uri) = (Some(jwks), None);
            }
            (None, Some(uri)) => {
                validate::key_uri(&uri)?;
                (self.jwks, self.jwks_uri) = (None, Some(uri));
            }
            _ => {
                return Err(AdminError::invalid(
                    "give either jwks or jwks_uri, not both",
                ))
            }
        }
        Ok(())
    }

    /// A mutual-TLS client's new subject DN or fingerprints (each only for its own method),
    /// and whether any client's tokens are certificate-bound.
    fn update_mtls(&mut self, update: &ClientUpdate) -> Result<(), AdminError> {
        let method = self.token_endpoint_auth_method.as_deref();
        if let Some(dn) = &update.tls_client_auth_subject_dn {
            if method != Some(TLS_CLIENT_AUTH) {
                return Err(AdminError::invalid(
                    "tls_client_auth_subject_dn: only a tls_client_auth client has one",
                ));
            }
            validate::subject(dn)?;
            self.tls_client_auth_subject_dn = Some(dn.clone());
        }
        if let Some(prints) = &update.tls_client_certificate_sha256 {
            if method != Some(SELF_SIGNED_TLS_CLIENT_AUTH) {
                return Err(AdminError::invalid(
                    "tls_client_certificate_sha256: only a self_signed_tls_client_auth client has them",
                ));
            }
            self.tls_client_certificate_sha256 = validate::sha256_list(prints)?;
        }
        if let Some(bound) = update.tls_client_certificate_bound_access_tokens {
            self.tls_client_certificate_bound_access_tokens = bound;
        }
        Ok(())
    }

    /// The record with `update` applied, validated as a whole.
    pub fn updated(&self, update: ClientUpdate) -> Result<Self, AdminError> {
        let mut next = self.clone();
        next.update_mtls(&update)?;
        if let Some(scopes) = update.scopes {
            next.scopes = validate::scope_list("scopes", &scopes)?;
        }
        if let Some(defaults) = update.default_scopes {
            next.default_scopes = validate::scope_list("default_scopes", &defaults)?;
        }
        if let Some(audience) = update.audience {
            next.audience = validate::audience_list(&audience)?;
        }
        if let Some(ttl) = update.token_ttl {
            next.token_ttl = validate::token_ttl(ttl)?;
        }
        if let Some(limit) = update.rate_limit {
            next.rate_limit = limit.map(validate::limit).transpose()?;
        }
        if let Some(quota) = update.quota {
            next.quota = quota.map(validate::quota).transpose()?;
        }
        if let Some(grants) = update.grant_types {
            next.grant_types = validate::grant_list(&grants)?;
        }
        next.update_keys(update.jwks, update.jwks_uri)?;
        if let Some(federation) = update.federation {
            if self.federation.is_none() {
                return Err(AdminError::invalid(
                    "federation: only a federated_jwt client has one",
                ));
            }
            if let Some(why) = federation.problem() {
                return Err(AdminError::invalid(why));
            }
            next.federation = Some(federation);
        }
        if let Some(defaults) = update.default_audience {
            next.default_audience = defaults
                .as_deref()
                .map(validate::default_audience)
                .transpose()?;
        }
        if let Some(claims) = update.claims {
            next.claims = validate::claims(claims)?;
        }
        if let Some(introspect) = update.introspect {
            next.introspect = introspect;
        }
        if let Some(dpop) = update.dpop_bound_access_tokens {
            next.dpop_bound_access_tokens = dpop;
        }
        check(&next)?;
        Ok(next)
    }

    /// Adds a new secret; the current one keeps working until `old_expires_at` (or its own,
    /// earlier, expiry). Secrets already expired at `now` are dropped first.
    pub fn rotate(
        &self,
        new_secret: &SecretHash,
        rotation: Rotation,
        now: u64,
    ) -> Result<Self, AdminError> {
        let until = rotation
            .old_secret_expires_at
            .unwrap_or(now + DEFAULT_OVERLAP_SECONDS);
        if until < now || until > now + MAX_OVERLAP_SECONDS {
            return Err(AdminError::invalid(format!(
                "old_secret_expires_at must be from now to now + {MAX_OVERLAP_SECONDS} s (Unix seconds)"
            )));
        }
        if self.secrets.is_empty() {
            return Err(AdminError::conflict(
                "a private_key_jwt or federated_jwt client has no secret: change its keys with `client update ID --jwks FILE`, or what it accepts with `--federated-issuer`",
            ));
        }
        let mut next = self.clone();
        next.secrets.retain(|s| s.live(now));
        if next.secrets.len() >= MAX_SECRETS {
            return Err(AdminError::conflict(
                "a rotation is already in progress (two live secrets): retire one first",
            ));
        }
        for old in &mut next.secrets {
            old.expires_at = Some(old.expires_at.map_or(until, |at| at.min(until)));
        }
        next.secrets.push(SecretEntry::new(new_secret, now));
        check(&next)?;
        Ok(next)
    }

    /// Removes the secret named `secret_id` (its [`SecretEntry::id`]); returns the new record
    /// and the removed hash, to revoke in the guard object. The last live secret cannot be
    /// retired.
    pub fn retire(&self, secret_id: &str, now: u64) -> Result<(Self, String), AdminError> {
        let position = self
            .secrets
            .iter()
            .position(|s| s.id() == secret_id)
            .ok_or_else(|| AdminError::not_found(format!("no secret {secret_id:?}")))?;
        let mut next = self.clone();
        let removed = next.secrets.remove(position);
        if !next.secrets.iter().any(|s| s.live(now)) {
            return Err(AdminError::conflict(
                "that would leave the client without a live secret: rotate first, or delete the client",
            ));
        }
        check(&next)?;
        Ok((next, removed.hash))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::core::{
        admin::contract::parse_body,
        client::Client,
        limit::Limit,
        record::SECRET_ID_BYTES,
        secret::{ClientSecret, Pepper},
    };
    use serde_json::Value;

    /// The hash of a test secret.
    pub(in crate::core::admin) fn hash(s: &str) -> SecretHash {
        Pepper::new("pepper-pepper-pepper-pepper-pepp")
            .unwrap()
            .hash(&ClientSecret::new(s.into()))
    }

    fn input(json: &str) -> NewClient {
        serde_json::from_str(json).unwrap()
    }

    /// A new record with secret `s1`, made at 1 000.
    pub(in crate::core::admin) fn record() -> Record {
        Record::create(
            input(r#"{"scopes":["a","b"],"default_scopes":["a"],"audience":["https://api"]}"#),
            "gen".into(),
            &hash("s1"),
            1_000,
        )
        .unwrap()
    }

    /// A `private_key_jwt` client's input with the public key `x` and `extra` members.
    fn keyed(extra: &str) -> String {
        format!(
            r#"{{"scopes":["a"],"audience":["https://api"],"token_endpoint_auth_method":"private_key_jwt",
            "jwks":{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"{}"}}]}}{extra}}}"#,
            crate::core::jwk::tests::RFC8037_X
        )
    }

    #[test]
    fn a_private_key_jwt_client_is_created_without_a_secret_and_its_keys_can_change() {
        let r = Record::create(input(&keyed("")), "gen".into(), &hash("s1"), 1_000).unwrap();
        assert!(r.secrets.is_empty());
        assert_eq!(r.token_endpoint_auth_signing_alg.as_deref(), Some("EdDSA"));
        assert!(Client::from_json("gen", &r.to_json())
            .unwrap()
            .keys
            .is_some());
        let other = serde_json::json!({ "keys": [{ "kty": "OKP", "crv": "Ed25519", "kid": "k2",
            "x": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" }] });
        let update: ClientUpdate =
            serde_json::from_value(serde_json::json!({ "jwks": other })).unwrap();
        assert_eq!(r.updated(update).unwrap().jwks, Some(other.clone()));
        let refused = r
            .rotate(&hash("s2"), Rotation::default(), 2_000)
            .unwrap_err();
        assert!(
            refused.message.contains("private_key_jwt"),
            "{}",
            refused.message
        );
        let update: ClientUpdate =
            serde_json::from_value(serde_json::json!({ "jwks": other })).unwrap();
        let on_secret = record().updated(update).unwrap_err();
        assert!(
            on_secret.message.contains("private_key_jwt"),
            "{}",
            on_secret.message
        );
    }

    #[test]
    fn a_private_key_jwt_client_may_name_a_jwks_uri_instead_and_switch_between_them() {
        let uri = r#","jwks_uri":"https://keys.example/jwks.json""#;
        let by_uri = keyed(uri).replace(
            &format!(
                r#""jwks":{{"keys":[{{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"{}"}}]}},"#,
                crate::core::jwk::tests::RFC8037_X
            ),
            "",
        );
        let r = Record::create(input(&by_uri), "gen".into(), &hash("s1"), 1_000).unwrap();
        assert_eq!(
            r.jwks_uri.as_deref(),
            Some("https://keys.example/jwks.json")
        );
        assert!(r.jwks.is_none() && r.secrets.is_empty() && r.keeps_the_schema());
        let inline = keyed("");
        let inline: serde_json::Value = serde_json::from_str(&inline).unwrap();
        let update: ClientUpdate =
            serde_json::from_value(serde_json::json!({ "jwks": inline["jwks"] })).unwrap();
        let switched = r.updated(update).unwrap();
        assert!(switched.jwks.is_some() && switched.jwks_uri.is_none());
        let back: ClientUpdate =
            serde_json::from_value(serde_json::json!({ "jwks_uri": "https://k2.example/j" }))
                .unwrap();
        assert_eq!(
            switched.updated(back).unwrap().jwks_uri.as_deref(),
            Some("https://k2.example/j")
        );
        for (json, reason) in [
            (keyed(uri), "not both"),
            (by_uri.replace("https://", "http://"), "jwks_uri"),
            (
                by_uri.replace(r#""token_endpoint_auth_method":"private_key_jwt","#, ""),
                "private_key_jwt",
            ),
        ] {
            let error = Record::create(input(&json), "gen".into(), &hash("s1"), 1_000).unwrap_err();
            assert!(error.message.contains(reason), "{json}: {}", error.message);
        }
    }

    #[test]
    fn a_federated_client_is_created_without_a_secret_and_its_federation_can_change() {
        let json = r#"{"scopes":["a"],"audience":["https://api"],"token_endpoint_auth_method":"federated_jwt",
            "federation":{"issuer":"github","subject":"repo:o/r:ref:refs/heads/main","claims":{"repository":"o/r"}}}"#;
        let r = Record::create(input(json), "gen".into(), &hash("s1"), 1_000).unwrap();
        assert!(r.secrets.is_empty() && r.keeps_the_schema());
        assert_eq!(
            r.federation.as_ref().map(|f| f.subject.as_str()),
            Some("repo:o/r:ref:refs/heads/main")
        );
        let update: ClientUpdate = serde_json::from_value(serde_json::json!({
            "federation": { "issuer": "github", "subject": "repo:o/r:environment:prod" } }))
        .unwrap();
        let changed = r.updated(update.clone()).unwrap();
        assert_eq!(
            changed.federation.map(|f| f.subject),
            Some("repo:o/r:environment:prod".into())
        );
        assert!(
            r.rotate(&hash("s2"), Rotation::default(), 2_000).is_err(),
            "no secret to rotate"
        );
        assert!(
            record().updated(update).is_err(),
            "a secret client has no federation"
        );
        for (bad, reason) in [
            (
                json.replace(",\n            \"federation\":", ",\"claims\":"),
                "federation",
            ),
            (
                json.replace(r#"repo:o/r:ref:refs/heads/main","claims""#, r#"","claims""#),
                "subject",
            ),
            (
                json.replace(r#""token_endpoint_auth_method":"federated_jwt","#, ""),
                "federated_jwt",
            ),
            (json.replace(r#""repository":"o/r""#, r#""sub":"x""#), "sub"),
        ] {
            let error = Record::create(input(&bad), "gen".into(), &hash("s1"), 1_000).unwrap_err();
            assert!(error.message.contains(reason), "{bad}: {}", error.message);
        }
    }

    const PRINT: &str = "AF:36:3D:C8:5B:C9:42:A8:92:D3:CE:E9:79:61:90:FD:B3:6D:89:CD:58:8A:4F:1C:B1:7C:74:A9:43:43:97:14";

    #[test]
    fn a_mutual_tls_client_is_created_without_a_secret_and_its_certificate_can_change() {
        let by_dn = r#"{"scopes":["a"],"audience":["https://api"],"token_endpoint_auth_method":"tls_client_auth",
            "tls_client_auth_subject_dn":"CN=svc,O=Example","tls_client_certificate_bound_access_tokens":true}"#;
        let r = Record::create(input(by_dn), "gen".into(), &hash("s1"), 1_000).unwrap();
        assert!(r.secrets.is_empty() && r.tls_client_certificate_bound_access_tokens);
        let client = Client::from_json("gen", &r.to_json()).unwrap();
        assert_eq!(
            client.mtls,
            Some(crate::core::mtls::MtlsAuth::SubjectDn(
                "CN=svc,O=Example".into()
            ))
        );
        assert!(client.certificate_bound);
        let moved = serde_json::from_value(serde_json::json!({
            "tls_client_auth_subject_dn": "CN=svc2,O=Example",
            "tls_client_certificate_bound_access_tokens": false }))
        .unwrap();
        let moved = r.updated(moved).unwrap();
        assert_eq!(
            moved.tls_client_auth_subject_dn.as_deref(),
            Some("CN=svc2,O=Example")
        );
        assert!(!moved.tls_client_certificate_bound_access_tokens);
        let prints: ClientUpdate =
            serde_json::from_value(serde_json::json!({ "tls_client_certificate_sha256": [PRINT] }))
                .unwrap();
        assert!(r
            .updated(prints.clone())
            .unwrap_err()
            .message
            .contains("only a self_signed"));

        let self_signed = format!(
            r#"{{"scopes":["a"],"audience":["https://api"],"token_endpoint_auth_method":"self_signed_tls_client_auth",
            "tls_client_certificate_sha256":["{PRINT}"]}}"#
        );
        let s = Record::create(input(&self_signed), "gen".into(), &hash("s1"), 1_000).unwrap();
        assert_eq!(
            s.tls_client_certificate_sha256,
            ["af363dc85bc942a892d3cee9796190fdb36d89cd588a4f1cb17c74a943439714"],
            "stored in lowercase hex, without separators"
        );
        assert!(s.secrets.is_empty() && s.keeps_the_schema());
        assert!(s.updated(prints).is_ok());
    }

    #[test]
    fn mutual_tls_members_are_refused_without_their_method_or_with_the_wrong_form() {
        let base = r#"{"scopes":["a"],"audience":["https://api"]"#;
        let cases = [
            (
                format!(r#"{base},"tls_client_auth_subject_dn":"CN=a"}}"#),
                "need token_endpoint_auth_method",
            ),
            (
                format!(r#"{base},"token_endpoint_auth_method":"tls_client_auth"}}"#),
                "subject DN",
            ),
            (
                format!(
                    r#"{base},"token_endpoint_auth_method":"tls_client_auth","tls_client_auth_subject_dn":"no attribute"}}"#
                ),
                "RFC 4514",
            ),
            (
                format!(
                    r#"{base},"token_endpoint_auth_method":"tls_client_auth","tls_client_auth_subject_dn":"CN=a","tls_client_certificate_sha256":["{PRINT}"]}}"#
                ),
                "no fingerprint",
            ),
            (
                format!(
                    r#"{base},"token_endpoint_auth_method":"self_signed_tls_client_auth","tls_client_certificate_sha256":["abc"]}}"#
                ),
                "64 hex digits",
            ),
            (
                format!(
                    r#"{base},"token_endpoint_auth_method":"self_signed_tls_client_auth","tls_client_certificate_sha256":[]}}"#
                ),
                "64 hex digits",
            ),
            (
                format!(r#"{base},"token_endpoint_auth_method":"self_signed_tls_client_auth"}}"#),
                "SHA-256",
            ),
            (
                format!(
                    r#"{base},"token_endpoint_auth_method":"self_signed_tls_client_auth","jwks_uri":"https://k.example/j","tls_client_certificate_sha256":["{PRINT}"]}}"#
                ),
                "no keys",
            ),
        ];
        for (json, reason) in cases {
            let error = Record::create(input(&json), "gen".into(), &hash("s1"), 1_000).unwrap_err();
            assert!(error.message.contains(reason), "{json}: {}", error.message);
        }
    }

    #[test]
    fn keys_with_private_members_or_without_their_method_are_refused_with_the_reason() {
        let private = keyed("").replace(r#""kid":"k1""#, r#""kid":"k1","d":"secret""#);
        let cases = [
            (private, "\"d\""),
            (
                keyed(r#","token_endpoint_auth_signing_alg":"HS256""#),
                "EdDSA",
            ),
            (
                keyed("").replace(r#""token_endpoint_auth_method":"private_key_jwt","#, ""),
                "private_key_jwt",
            ),
            (
                keyed("").replace("private_key_jwt", "client_secret_jwt"),
                "token_endpoint_auth_method",
            ),
            (
                keyed("").replace("private_key_jwt", "tls_client_auth"),
                "mutual-TLS client has no keys",
            ),
        ];
        for (json, reason) in cases {
            let error = Record::create(input(&json), "gen".into(), &hash("s1"), 1_000).unwrap_err();
            assert!(error.message.contains(reason), "{json}: {}", error.message);
        }
    }

    #[test]
    fn a_new_record_is_one_the_token_endpoint_accepts() {
        let r = record();
        assert_eq!(r.client_id, "gen");
        assert_eq!(r.grant_types, ["client_credentials"]);
        assert_eq!(r.token_ttl, DEFAULT_TOKEN_TTL);
        let client = Client::from_json("gen", &r.to_json()).unwrap();
        let secret = ClientSecret::new("s1".into());
        let pepper = Pepper::new("pepper-pepper-pepper-pepper-pepp").unwrap();
        assert!(client.authenticate(&pepper, &secret, 2_000).is_some());
        assert_eq!(r.secrets[0].created_at, Some(1_000));
    }

    #[test]
    fn secrets_the_admin_api_generates_are_marked_so_and_others_are_imported() {
        let r = record();
        assert!(r.secrets[0].generated);
        assert!(r.to_json().contains(r#""generated":true"#));
        let client = Client::from_json("gen", &r.to_json()).unwrap();
        assert!(!client.guessable(2_000));
        // A record written by other means, or before the mark: imported.
        let mut imported = r.clone();
        imported.secrets[0].generated = false;
        assert!(!imported.to_json().contains("generated"));
        let client = Client::from_json("gen", &imported.to_json()).unwrap();
        assert!(client.guessable(2_000));
        // During a rotation from an imported secret, the client stays guessable until its
        // old secret expires.
        let rotation = Rotation {
            old_secret_expires_at: Some(5_000),
        };
        let rotated = imported.rotate(&hash("s2"), rotation, 2_000).unwrap();
        let client = Client::from_json("gen", &rotated.to_json()).unwrap();
        assert!(client.guessable(4_999) && !client.guessable(5_000));
    }

    #[test]
    fn bad_input_is_refused_with_a_message_naming_the_member() {
        let cases = [
            (
                r#"{"scopes":[],"audience":["x"]}"#,
                "scopes: at least one scope",
            ),
            (r#"{"scopes":["a b"],"audience":["x"]}"#, "scopes:"),
            (
                r#"{"scopes":["a"],"default_scopes":["b"],"audience":["x"]}"#,
                "default_scopes must be a subset",
            ),
            (r#"{"scopes":["a"],"audience":[]}"#, "audience:"),
            (r#"{"scopes":["a"],"audience":["a b"]}"#, "audience:"),
            (
                r#"{"scopes":["a"],"audience":["x"],"token_ttl":59}"#,
                "token_ttl",
            ),
            (
                r#"{"scopes":["a"],"audience":["x"],"rate_limit":{"per_minute":0,"burst":1}}"#,
                "rate_limit",
            ),
            (
                r#"{"scopes":["a"],"audience":["x"],"client_id":""}"#,
                "client_id",
            ),
            (
                r#"{"scopes":["a"],"audience":["x"],"grant_types":["a b"]}"#,
                "grant_types",
            ),
            (
                r#"{"scopes":["a"],"audience":["x"],"default_audience":["y"]}"#,
                "default_audience must be a subset of audience",
            ),
            (
                r#"{"scopes":["a"],"audience":["x"],"default_audience":[]}"#,
                "default_audience:",
            ),
            (
                r#"{"scopes":["a"],"audience":["x"],"claims":{"client_id":"y"}}"#,
                "claims: the claim \"client_id\" is set by the token itself",
            ),
        ];
        for (json, expected) in cases {
            let error = Record::create(input(json), "g".into(), &hash("s"), 0).unwrap_err();
            assert_eq!(error.status, 400, "{json}");
            assert!(
                error.message.contains(expected),
                "{json}: {}",
                error.message
            );
        }
        let unknown = parse_body::<NewClient>(br#"{"scopes":["a"],"audience":["x"],"scope":1}"#);
        assert!(unknown
            .unwrap_err()
            .message
            .contains("unknown field `scope`"));
        assert_eq!(parse_body::<NewClient>(b"{").unwrap_err().status, 400);
    }

    #[test]
    fn an_update_changes_only_what_it_names_and_a_bad_one_changes_nothing() {
        let r = record();
        let update: ClientUpdate =
            parse_body(br#"{"token_ttl":120,"rate_limit":{"per_minute":5,"burst":2}}"#).unwrap();
        let next = r.updated(update).unwrap();
        assert_eq!(
            (next.token_ttl, next.scopes.clone()),
            (120, r.scopes.clone())
        );
        assert_eq!(
            next.rate_limit,
            Some(Limit {
                per_minute: 5,
                burst: 2
            })
        );
        let reset: ClientUpdate = parse_body(br#"{"rate_limit":null}"#).unwrap();
        assert_eq!(next.updated(reset).unwrap().rate_limit, None);
        let bad: ClientUpdate = parse_body(br#"{"scopes":["b"]}"#).unwrap();
        let error = r.updated(bad).unwrap_err();
        assert!(error.message.contains("default_scopes must be a subset"));
        assert_eq!(r, record(), "the original is untouched");
    }

    #[test]
    fn default_audience_and_claims_are_set_replaced_and_cleared() {
        let r = Record::create(
            input(
                r#"{"scopes":["a"],"audience":["x","y"],"default_audience":["y"],"claims":{"tier":"gold"}}"#,
            ),
            "g".into(),
            &hash("s"),
            0,
        )
        .unwrap();
        assert_eq!(r.default_audience.as_deref(), Some(&["y".to_owned()][..]));
        assert_eq!(r.claims["tier"], "gold");
        let change: ClientUpdate =
            parse_body(br#"{"default_audience":null,"claims":{"roles":["r"]}}"#).unwrap();
        let next = r.updated(change).unwrap();
        assert_eq!(next.default_audience, None);
        assert_eq!(
            Value::Object(next.claims.clone()),
            serde_json::json!({"roles":["r"]})
        );
        let cleared = next
            .updated(parse_body(br#"{"claims":{}}"#).unwrap())
            .unwrap();
        assert!(cleared.claims.is_empty() && !cleared.to_json().contains("claims"));
        // Dropping an audience that is a default one is refused, the record left as it was.
        let narrowed = r.updated(parse_body(br#"{"audience":["x"]}"#).unwrap());
        assert!(narrowed.unwrap_err().message.contains("default_audience"));
    }

    #[test]
    fn unknown_members_of_a_stored_record_survive_a_rewrite() {
        let mut json: Value = serde_json::from_str(&record().to_json()).unwrap();
        json["future"] = serde_json::json!({"x": 1});
        json["secrets"][0]["note"] = "kept".into();
        let stored = Record::read_stored("gen", &json.to_string()).unwrap();
        let update: ClientUpdate = parse_body(br#"{"token_ttl":600}"#).unwrap();
        let out: Value = serde_json::from_str(&stored.updated(update).unwrap().to_json()).unwrap();
        assert_eq!(out["future"]["x"], 1);
        assert_eq!(out["secrets"][0]["note"], "kept");
        assert_eq!(out["token_ttl"], 600);
    }

    #[test]
    fn a_stored_record_without_scopes_is_shown_but_an_update_must_give_it_one() {
        let mut json: Value = serde_json::from_str(&record().to_json()).unwrap();
        json["scopes"] = serde_json::json!([]);
        json["default_scopes"] = serde_json::json!([]);
        let stored = Record::read_stored("gen", &json.to_string()).unwrap();
        let ttl: ClientUpdate = parse_body(br#"{"token_ttl":600}"#).unwrap();
        assert_eq!(stored.updated(ttl).unwrap_err().status, 400);
        let scopes: ClientUpdate = parse_body(br#"{"scopes":["a"]}"#).unwrap();
        assert_eq!(stored.updated(scopes).unwrap().scopes, ["a"]);
    }

    #[test]
    fn a_broken_or_misnamed_stored_record_is_a_fault() {
        assert_eq!(Record::read_stored("gen", "{").unwrap_err().status, 500);
        assert_eq!(
            Record::read_stored("other", &record().to_json())
                .unwrap_err()
                .status,
            500
        );
    }

    #[test]
    fn a_rotation_keeps_the_old_secret_until_the_expiry_then_only_the_new_one_works() {
        let r = record();
        let rotation = Rotation {
            old_secret_expires_at: Some(5_000),
        };
        let next = r.rotate(&hash("s2"), rotation, 2_000).unwrap();
        assert_eq!(next.secrets.len(), 2);
        assert_eq!(next.secrets[0].expires_at, Some(5_000));
        let client = Client::from_json("gen", &next.to_json()).unwrap();
        let pepper = Pepper::new("pepper-pepper-pepper-pepper-pepp").unwrap();
        let works = |s: &str, now| {
            client
                .authenticate(&pepper, &ClientSecret::new(s.into()), now)
                .is_some()
        };
        assert!(works("s1", 4_999) && works("s2", 4_999));
        assert!(!works("s1", 5_000) && works("s2", 5_000));
        // A second rotation during the overlap is refused; after it, the expired one is dropped.
        let again = next.rotate(&hash("s3"), Rotation::default(), 3_000);
        assert_eq!(again.unwrap_err().status, 409);
        let later = next
            .rotate(&hash("s3"), Rotation::default(), 6_000)
            .unwrap();
        assert_eq!(later.secrets.len(), 2);
        assert_eq!(later.secrets[0].hash, hash("s2").encode());
    }

    #[test]
    fn a_rotation_expiry_must_be_between_now_and_a_year_ahead() {
        let r = record();
        for bad in [1_999, 2_000 + MAX_OVERLAP_SECONDS + 1] {
            let rotation = Rotation {
                old_secret_expires_at: Some(bad),
            };
            assert_eq!(
                r.rotate(&hash("x"), rotation, 2_000).unwrap_err().status,
                400
            );
        }
        let default = r.rotate(&hash("x"), Rotation::default(), 2_000).unwrap();
        assert_eq!(
            default.secrets[0].expires_at,
            Some(2_000 + DEFAULT_OVERLAP_SECONDS)
        );
    }

    #[test]
    fn retiring_removes_a_secret_but_never_the_last_live_one() {
        let r = record();
        let id = r.secrets[0].id();
        assert_eq!(id.len(), 2 * SECRET_ID_BYTES);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(r.retire(&id, 2_000).unwrap_err().status, 409);
        assert_eq!(r.retire("nope", 2_000).unwrap_err().status, 404);
        let rotated = r.rotate(&hash("s2"), Rotation::default(), 2_000).unwrap();
        let (next, removed) = rotated.retire(&id, 2_000).unwrap();
        assert_eq!(removed, hash("s1").encode());
        assert_eq!(next.secrets.len(), 1);
        assert_eq!(next.secrets[0].hash, hash("s2").encode());
    }
}
