//! What the admin API shows of a client: everything but the hashes, with the guard object's
//! view of each secret's last use and of the client's status.

use serde_json::Value;

use super::contract::{ClientInfo, ListEntry, SecretInfo};
use crate::core::{
    guard::ClientUsage,
    limit::DEFAULT_LIMIT,
    record::{Record, SecretEntry},
};

fn secret_info(secret: &SecretEntry, usage: Option<&ClientUsage>, now: u64) -> SecretInfo {
    let last_used_at = usage.and_then(|u| {
        u.last_used
            .iter()
            .find(|(hash, _)| *hash == secret.hash)
            .map(|(_, ms)| ms / 1000)
    });
    let revoked = usage.is_some_and(|u| u.revoked.contains(&secret.hash));
    SecretInfo {
        created_at: secret.created_at,
        expires_at: secret.expires_at,
        id: secret.id(),
        last_used_at,
        live: secret.live(now) && !revoked,
    }
}

impl Record {
    /// The client as shown, in `tenant`, at `now`; `usage` is `None` when the guard object
    /// did not answer.
    pub fn info(&self, tenant: &str, usage: Option<&ClientUsage>, now: u64) -> ClientInfo {
        ClientInfo {
            audience: self.audience.clone(),
            claims: self.claims.clone(),
            client_id: self.client_id.clone(),
            default_audience: self.default_audience.clone(),
            created_at: self.created_at,
            default_scopes: self.default_scopes.clone(),
            disabled: self.disabled || usage.is_some_and(|u| u.disabled),
            grant_types: self.grant_types.clone(),
            introspect: self.introspect,
            dpop_bound_access_tokens: self.dpop_bound_access_tokens,
            jwks: self.jwks.clone(),
            quota: self.quota,
            quota_usage: (self.quota.is_some())
                .then(|| usage.map(|u| u.quota))
                .flatten(),
            jwks_uri: self.jwks_uri.clone(),
            federation: self.federation.clone(),
            tls_client_auth_subject_dn: self.tls_client_auth_subject_dn.clone(),
            tls_client_certificate_sha256: self.tls_client_certificate_sha256.clone(),
            tls_client_certificate_bound_access_tokens: self
                .tls_client_certificate_bound_access_tokens,
            rate_limit: self.rate_limit.unwrap_or(DEFAULT_LIMIT),
            rate_limit_is_default: self.rate_limit.is_none(),
            scopes: self.scopes.clone(),
            secrets: self
                .secrets
                .iter()
                .map(|s| secret_info(s, usage, now))
                .collect(),
            tenant: tenant.to_owned(),
            token_endpoint_auth_method: self.token_endpoint_auth_method.clone(),
            token_endpoint_auth_signing_alg: self.token_endpoint_auth_signing_alg.clone(),
            token_ttl: self.token_ttl,
            usage_unavailable: usage.is_none(),
            version: self.version,
        }
    }
}

impl ListEntry {
    /// The list's entry of `client_id` from the KV metadata stored beside its record
    /// ([`Record::metadata`]); what the metadata lacks stays `None`.
    pub fn from_metadata(client_id: &str, metadata: Option<&Value>) -> Self {
        let member = |name: &str| metadata.and_then(|m| m.get(name));
        let list = |name: &str| {
            member(name).and_then(Value::as_array).map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
        };
        Self {
            audience: list("audience"),
            client_id: client_id.to_owned(),
            created_at: member("created_at").and_then(Value::as_u64),
            disabled: member("disabled").and_then(Value::as_bool),
            scopes: list("scopes"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::admin::{
        changes::tests::{hash, record},
        contract::Rotation,
    };
    #[test]
    fn the_info_shows_no_hash_and_each_secrets_last_use() {
        let r = record()
            .rotate(&hash("s2"), Rotation::default(), 2_000)
            .unwrap();
        let usage = ClientUsage {
            disabled: true,
            revoked: vec![],
            last_used: vec![(hash("s2").encode(), 2_500_999)],
            ..ClientUsage::default()
        };
        let info = r.info("default", Some(&usage), 3_000);
        let text = serde_json::to_string(&info).unwrap();
        assert!(!text.contains(&hash("s1").encode()) && !text.contains(&hash("s2").encode()));
        assert!(info.disabled && !info.usage_unavailable);
        assert_eq!(info.secrets[1].last_used_at, Some(2_500));
        assert_eq!(info.secrets[0].last_used_at, None);
        assert_eq!(info.rate_limit.per_minute, 600);
        assert!(!text.contains("usage_unavailable"));
        assert!(r.info("default", None, 3_000).usage_unavailable);
    }

    #[test]
    fn a_list_entry_reads_what_the_metadata_has_and_leaves_the_rest_unknown() {
        let mut r = record();
        r.created_at = Some(1_000);
        let entry = ListEntry::from_metadata("svc", Some(&r.metadata()));
        assert_eq!(entry.created_at, Some(1_000));
        assert_eq!(entry.disabled, Some(false));
        assert_eq!(entry.scopes.as_deref(), Some(r.scopes.as_slice()));
        assert_eq!(entry.audience.as_deref(), Some(r.audience.as_slice()));
        let old = ListEntry::from_metadata("svc", Some(&serde_json::json!({ "disabled": true })));
        assert_eq!(
            (old.disabled, old.scopes, old.created_at),
            (Some(true), None, None)
        );
        assert_eq!(ListEntry::from_metadata("svc", None).disabled, None);
    }
}
