//! What the admin API shows of a client: everything but the hashes, with the guard object's
//! view of each secret's last use and of the client's status.

use super::contract::{ClientInfo, SecretInfo};
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
            default_scopes: self.default_scopes.clone(),
            disabled: self.disabled || usage.is_some_and(|u| u.disabled),
            grant_types: self.grant_types.clone(),
            jwks: self.jwks.clone(),
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
}
