//! Scopes (RFC 6749 §3.3) and the policy that decides what a client is granted.

use super::error::Error;

/// One scope token: `1*( %x21 / %x23-5B / %x5D-7E )`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ScopeToken(String);

impl ScopeToken {
    /// Parses one token; `None` if empty or if a character is outside the grammar.
    pub fn parse(token: &str) -> Option<Self> {
        let valid = !token.is_empty()
            && token
                .bytes()
                .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E));
        valid.then(|| Self(token.to_owned()))
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A list of distinct scope tokens, in first-seen order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(Vec<ScopeToken>);

impl Scopes {
    /// Parses a `scope` parameter: tokens separated by single spaces. Repeats are dropped.
    pub fn parse(scope: &str) -> Result<Self, Error> {
        let mut tokens: Vec<ScopeToken> = Vec::new();
        for part in scope.split(' ') {
            let token = ScopeToken::parse(part).ok_or(Error::MalformedScope)?;
            if !tokens.contains(&token) {
                tokens.push(token);
            }
        }
        Ok(Self(tokens))
    }

    /// Builds a list from tokens, dropping repeats.
    pub fn from_tokens(tokens: impl IntoIterator<Item = ScopeToken>) -> Self {
        let mut out = Self::default();
        for token in tokens {
            if !out.contains(&token) {
                out.0.push(token);
            }
        }
        out
    }

    /// Whether the list holds this token.
    pub fn contains(&self, token: &ScopeToken) -> bool {
        self.0.contains(token)
    }

    /// Whether every token of `self` is in `other`.
    pub fn is_subset_of(&self, other: &Scopes) -> bool {
        self.0.iter().all(|token| other.contains(token))
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tokens.
    pub fn iter(&self) -> impl Iterator<Item = &ScopeToken> {
        self.0.iter()
    }

    /// The tokens joined by single spaces: the `scope` claim and response member.
    pub fn to_scope_string(&self) -> String {
        let parts: Vec<&str> = self.0.iter().map(ScopeToken::as_str).collect();
        parts.join(" ")
    }
}

/// What was granted, and whether the response must name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The granted scopes; empty only for an omitted scope under [`OmittedScope::None`].
    pub scopes: Scopes,
    /// RFC 6749 §5.1: `scope` is returned when it differs from what was requested.
    pub echo: bool,
}

/// How a requested scope outside the client's allowed set is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopePolicy {
    /// RFC 6749 §3.3 as most servers read it: any scope not allowed → `invalid_scope`.
    Strict,
    /// Grant the allowed part and name it in the response (§3.3 permits a narrower grant);
    /// `invalid_scope` only when nothing requested is allowed.
    Subset,
}

/// What a request without `scope` is granted (a tenant's `omitted_scope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OmittedScope {
    /// `defaults`: the client's default scopes; none → `invalid_scope` (RFC 6749 §3.3).
    Defaults,
    /// `none`: the client's default scopes, or, when it has none, a token without scope.
    None,
    /// `error`: `invalid_scope`, whatever the defaults: every request must name its scope.
    Error,
}

/// A tenant's scope rules: the policy, an optional token that stands for every scope the
/// client is allowed (e.g. `*`), and what an omitted scope is granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRules {
    /// Strict or subset.
    pub policy: ScopePolicy,
    /// The token meaning "all my allowed scopes", if the tenant has one.
    pub wildcard: Option<ScopeToken>,
    /// What a request without `scope` gets.
    pub omitted: OmittedScope,
}

impl ScopeRules {
    /// The RFC default: strict, no wildcard, the defaults when `scope` is omitted.
    pub const STRICT: Self = Self {
        policy: ScopePolicy::Strict,
        wildcard: None,
        omitted: OmittedScope::Defaults,
    };
}

/// The grant of a request without `scope`, by the tenant's `omitted_scope`; the defaults are
/// named in the response, an empty grant is not.
fn omitted(defaults: &Scopes, rule: OmittedScope) -> Result<Grant, Error> {
    match rule {
        OmittedScope::Error => Err(Error::NoScope),
        OmittedScope::Defaults if defaults.is_empty() => Err(Error::NoScope),
        OmittedScope::Defaults | OmittedScope::None => Ok(Grant {
            scopes: defaults.clone(),
            echo: !defaults.is_empty(),
        }),
    }
}

/// Decides the grant. An omitted scope is granted what the tenant's `omitted_scope` says. A
/// requested wildcard grants everything allowed. Otherwise the policy decides what happens to
/// scopes outside the allowed set.
pub fn decide(
    requested: Option<&str>,
    allowed: &Scopes,
    defaults: &Scopes,
    rules: &ScopeRules,
) -> Result<Grant, Error> {
    let Some(requested) = requested else {
        return omitted(defaults, rules.omitted);
    };
    let asked = Scopes::parse(requested)?;
    let scopes = if rules.wildcard.as_ref().is_some_and(|w| asked.contains(w)) {
        allowed.clone()
    } else if asked.is_subset_of(allowed) {
        asked
    } else {
        match rules.policy {
            ScopePolicy::Strict => return Err(Error::ScopeNotAllowed),
            ScopePolicy::Subset => {
                Scopes::from_tokens(asked.iter().filter(|t| allowed.contains(t)).cloned())
            }
        }
    };
    if scopes.is_empty() {
        return Err(Error::ScopeNotAllowed);
    }
    // Repeats in the request were dropped; the grant equals the request as a set.
    let echo = scopes.to_scope_string() != requested;
    Ok(Grant { scopes, echo })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scopes(s: &str) -> Scopes {
        Scopes::parse(s).unwrap()
    }

    #[test]
    fn the_scope_grammar_is_rfc_6749_section_3_3() {
        assert!(ScopeToken::parse("orders:read").is_some());
        assert!(ScopeToken::parse("!#[]~").is_some());
        for bad in ["", "a\"b", "a\\b", "a b", "é", "a\tb"] {
            assert!(ScopeToken::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn separators_are_single_spaces() {
        for bad in ["a  b", " a", "a ", " "] {
            assert_eq!(Scopes::parse(bad), Err(Error::MalformedScope), "{bad:?}");
        }
    }

    #[test]
    fn a_subset_is_granted_as_requested_without_echo() {
        let grant = decide(
            Some("b a"),
            &scopes("a b c"),
            &scopes("a"),
            &ScopeRules::STRICT,
        )
        .unwrap();
        assert_eq!(grant.scopes.to_scope_string(), "b a");
        assert!(!grant.echo);
    }

    #[test]
    fn a_scope_outside_the_allowed_set_is_refused() {
        assert_eq!(
            decide(
                Some("a z"),
                &scopes("a b"),
                &scopes("a"),
                &ScopeRules::STRICT
            ),
            Err(Error::ScopeNotAllowed)
        );
    }

    #[test]
    fn an_omitted_scope_grants_the_defaults_and_echoes_them() {
        let grant = decide(None, &scopes("a b"), &scopes("b"), &ScopeRules::STRICT).unwrap();
        assert_eq!(grant.scopes, scopes("b"));
        assert!(grant.echo);
    }

    #[test]
    fn no_scope_and_no_defaults_is_invalid_scope() {
        assert_eq!(
            decide(None, &scopes("a"), &Scopes::default(), &ScopeRules::STRICT),
            Err(Error::NoScope)
        );
    }

    #[test]
    fn repeated_tokens_are_granted_once_and_echoed() {
        let grant = decide(Some("a a"), &scopes("a"), &scopes("a"), &ScopeRules::STRICT).unwrap();
        assert_eq!(grant.scopes.to_scope_string(), "a");
        assert!(grant.echo);
    }

    fn subset() -> ScopeRules {
        ScopeRules {
            policy: ScopePolicy::Subset,
            ..ScopeRules::STRICT
        }
    }

    fn wildcard() -> ScopeRules {
        ScopeRules {
            wildcard: ScopeToken::parse("*"),
            ..ScopeRules::STRICT
        }
    }

    fn when_omitted(omitted: OmittedScope) -> ScopeRules {
        ScopeRules {
            omitted,
            ..ScopeRules::STRICT
        }
    }

    #[test]
    fn an_omitted_scope_follows_the_tenants_omitted_scope_rule() {
        let (allowed, defaults, none) = (scopes("a b"), scopes("b"), Scopes::default());
        let grant = |d: &Scopes, rule| decide(None, &allowed, d, &when_omitted(rule));
        // defaults: the defaults, or invalid_scope without them (today's rule).
        assert_eq!(
            grant(&defaults, OmittedScope::Defaults).unwrap().scopes,
            defaults
        );
        assert_eq!(grant(&none, OmittedScope::Defaults), Err(Error::NoScope));
        // none: the defaults, or a token without scope, not echoed.
        let with = grant(&defaults, OmittedScope::None).unwrap();
        assert_eq!((with.scopes, with.echo), (defaults.clone(), true));
        let without = grant(&none, OmittedScope::None).unwrap();
        assert!(without.scopes.is_empty() && !without.echo);
        // error: a scope must always be named.
        assert_eq!(grant(&defaults, OmittedScope::Error), Err(Error::NoScope));
        assert_eq!(grant(&none, OmittedScope::Error), Err(Error::NoScope));
        // A named scope is decided alike under each rule.
        for rule in [
            OmittedScope::Defaults,
            OmittedScope::None,
            OmittedScope::Error,
        ] {
            let named = decide(Some("a"), &allowed, &none, &when_omitted(rule)).unwrap();
            assert_eq!(named.scopes, scopes("a"));
        }
    }

    #[test]
    fn the_subset_policy_grants_the_allowed_part_and_names_it() {
        let grant = decide(Some("a z b"), &scopes("a b c"), &scopes("a"), &subset()).unwrap();
        assert_eq!(grant.scopes.to_scope_string(), "a b");
        assert!(grant.echo);
        assert_eq!(
            decide(Some("y z"), &scopes("a b"), &scopes("a"), &subset()),
            Err(Error::ScopeNotAllowed)
        );
        let exact = decide(Some("b"), &scopes("a b"), &scopes("a"), &subset()).unwrap();
        assert!(!exact.echo);
    }

    #[test]
    fn the_wildcard_grants_every_allowed_scope_only_where_configured() {
        let grant = decide(Some("*"), &scopes("a b"), &scopes("a"), &wildcard()).unwrap();
        assert_eq!(grant.scopes, scopes("a b"));
        assert!(grant.echo);
        let mixed = decide(Some("a *"), &scopes("a b"), &scopes("a"), &wildcard()).unwrap();
        assert_eq!(mixed.scopes, scopes("a b"));
        assert_eq!(
            decide(Some("*"), &scopes("a b"), &scopes("a"), &ScopeRules::STRICT),
            Err(Error::ScopeNotAllowed)
        );
    }

    proptest! {
        #[test]
        fn a_grant_is_always_within_the_allowed_set(
            allowed in proptest::collection::vec("[a-e]", 0..5),
            requested in proptest::collection::vec("[a-g]", 1..5),
        ) {
            let allowed = Scopes::parse(&allowed.join(" ")).unwrap_or_default();
            let requested = requested.join(" ");
            for rules in [ScopeRules::STRICT, subset(), wildcard()] {
                if let Ok(grant) = decide(Some(&requested), &allowed, &Scopes::default(), &rules) {
                    prop_assert!(grant.scopes.is_subset_of(&allowed));
                    prop_assert!(!grant.scopes.is_empty());
                    // The response names the grant whenever it differs from the request.
                    prop_assert_eq!(grant.echo, grant.scopes.to_scope_string() != requested);
                }
            }
        }
    }
}
