//! The rules of key rotation, as pure functions of the key set and the time: which role a
//! key has, and when promoting or retiring one would leave verifiers without a key they need.

use serde_json::{json, Value};

use crate::text::time;

/// When a key was added to the set (a member of ours, which the Worker ignores).
pub const ADDED: &str = "edge_token_added_at";
/// When a key stopped signing (a member of ours).
pub const DEMOTED: &str = "edge_token_demoted_at";
/// The JWKS's `Cache-Control: max-age`: a key published for less may be unknown to verifiers.
pub const JWKS_MAX_AGE: u64 = 300;

fn seconds(key: &Value, member: &str) -> Option<u64> {
    key.get(member).and_then(Value::as_u64)
}

/// A key's role: the first signs; a key that stopped signing is "previous"; one that has not
/// signed yet is "next".
pub fn role(index: usize, key: &Value) -> &'static str {
    match (index, key.get(DEMOTED)) {
        (0, _) => "signing",
        (_, Some(_)) => "previous",
        _ => "next",
    }
}

/// Why `kid` may not sign yet at `now`: it was added less than [`JWKS_MAX_AGE`] ago, so
/// verifiers that cached the JWKS before may not know it.
pub fn promote_refusal(kid: &str, key: &Value, now: u64) -> Option<String> {
    let added = seconds(key, ADDED)?;
    (now < added + JWKS_MAX_AGE).then(|| {
        format!(
            "{kid} was added {} s ago: verifiers may cache the JWKS for {JWKS_MAX_AGE} s and not know it yet. Wait, or pass --force",
            now.saturating_sub(added)
        )
    })
}

/// Why `kid` may not be removed yet at `now`: tokens it signed may still be live (its
/// demotion plus the longest token lifetime plus the JWKS cache time), or when it stopped
/// signing is unknown. A key added that never signed may go at once.
pub fn retire_refusal(kid: &str, key: &Value, max_token_ttl: u64, now: u64) -> Option<String> {
    match (seconds(key, DEMOTED), key.get(ADDED)) {
        (None, Some(_)) => None,
        (Some(demoted), _) => {
            let safe_from = demoted + max_token_ttl + JWKS_MAX_AGE;
            (now < safe_from).then(|| {
                format!(
                    "tokens signed by {kid} may live until {}: wait, or pass --force",
                    time(safe_from)
                )
            })
        }
        (None, None) => Some(format!(
            "when {kid} stopped signing is not recorded: make sure its tokens have expired, then pass --force"
        )),
    }
}

/// The set with the key at `at` first (signing) and the former signing key marked as
/// demoted at `now`.
pub fn promoted(mut keys: Vec<Value>, at: usize, now: u64) -> Vec<Value> {
    let mut key = keys.remove(at);
    if let Some(obj) = key.as_object_mut() {
        obj.remove(DEMOTED);
    }
    if let Some(obj) = keys.first_mut().and_then(Value::as_object_mut) {
        obj.insert(DEMOTED.into(), json!(now));
    }
    keys.insert(0, key);
    keys
}

/// Each key as listed: kid, role, when added and demoted (never a private part).
pub fn describe(kids: &[String], keys: &[Value]) -> Vec<Value> {
    kids.iter()
        .zip(keys)
        .enumerate()
        .map(|(i, (kid, key))| {
            json!({
                "kid": kid,
                "role": role(i, key),
                "added_at": key.get(ADDED),
                "demoted_at": key.get(DEMOTED),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_follow_position_and_demotion() {
        let keys = [json!({}), json!({ DEMOTED: 1 }), json!({ ADDED: 1 })];
        let roles: Vec<&str> = keys.iter().enumerate().map(|(i, k)| role(i, k)).collect();
        assert_eq!(roles, ["signing", "previous", "next"]);
    }

    #[test]
    fn a_key_may_sign_once_the_jwks_cache_time_has_passed_since_it_was_added() {
        let key = json!({ ADDED: 1_000 });
        let early = promote_refusal("k", &key, 1_000 + JWKS_MAX_AGE - 1).unwrap();
        assert!(early.contains("added 299 s ago") && early.contains("--force"));
        assert_eq!(promote_refusal("k", &key, 1_000 + JWKS_MAX_AGE), None);
        assert_eq!(
            promote_refusal("k", &json!({}), 0),
            None,
            "unknown: allowed"
        );
    }

    #[test]
    fn a_key_may_go_once_its_tokens_have_expired_or_if_it_never_signed() {
        let demoted = json!({ ADDED: 0, DEMOTED: 1_000 });
        let safe_from = 1_000 + 3_600 + JWKS_MAX_AGE;
        let early = retire_refusal("k", &demoted, 3_600, safe_from - 1).unwrap();
        assert!(early.contains(&time(safe_from)));
        assert_eq!(retire_refusal("k", &demoted, 3_600, safe_from), None);
        assert_eq!(retire_refusal("k", &json!({ ADDED: 5 }), 3_600, 5), None);
        let unknown = retire_refusal("k", &json!({}), 3_600, u64::MAX).unwrap();
        assert!(unknown.contains("not recorded"));
    }

    #[test]
    fn promotion_moves_the_key_first_and_marks_the_former_signer_demoted() {
        let keys = vec![json!({ "n": "a" }), json!({ "n": "b", DEMOTED: 1 })];
        let after = promoted(keys, 1, 77);
        assert_eq!(after[0], json!({ "n": "b" }));
        assert_eq!(after[1], json!({ "n": "a", DEMOTED: 77 }));
    }
}
