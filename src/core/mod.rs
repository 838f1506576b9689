//! The pure core: everything that decides, nothing that does I/O.
//!
//! No `worker` type, no clock, no random source: time and random bytes are passed in, and
//! storage is reached through [`token::ClientStore`]. Built and tested natively.
//!
//! The modules follow the pipeline of [`token::Issuer::issue`]:
//! - [`request`] (with [`form`]): raw HTTP parts → a typed [`request::TokenRequest`];
//! - [`client`] (with [`record`] and [`secret`]): the stored record, its one conversion to
//!   the client the pipeline uses, and client authentication; [`unknown`]: the ids the store
//!   recently said do not exist; [`assertion`] (with [`jwk`]): `private_key_jwt` client
//!   assertions, their checks and the client's public keys; [`jwks_cache`]: keys fetched
//!   from a client's `jwks_uri`, cached per isolate; [`federation`]: clients that authenticate
//!   with their platform's token, checked against a tenant's trusted issuers;
//! - [`audience`]: which of the client's audiences the token is for (RFC 8707 `resource`,
//!   `audience`), and which scopes go with them; [`scope`]: what the client is granted;
//!   [`claims`]: the static custom claims of a tenant and a client;
//! - [`binding`]: the key a sender-constrained token is bound to (its `cnf` claim); [`dpop`]:
//!   DPoP proofs (RFC 9449), their checks, the key's thumbprint and the server's nonces;
//!   [`mtls`]: the client certificate Cloudflare reports, the two mutual-TLS client
//!   authentication methods and certificate-bound tokens (RFC 8705);
//! - [`keys`]: the signing keys, the JWKS;
//! - [`sign`]: the token's signing input (jwt-compact) and the Ed25519 [`sign::Signer`];
//! - [`token`]: the checklist itself, and minting; [`introspect`]: the introspection and
//!   revocation endpoints (RFC 7662, RFC 7009), which authenticate clients as it does;
//! - [`guard`] (with [`limit`] and [`gate`]): issuance limits, failure throttling, revocation,
//!   and the cheap first gate that keeps failures off storage;
//! - [`json`]: the one JSON reader every part above reads with;
//! - [`error`]: every reason to refuse, and its one mapping to RFC 6749 §5.2;
//! - [`config`]: the origin and the tenants (issuers, paths, policies), RFC 8414 metadata;
//! - [`deployment`]: every tenant's issuer, built once per isolate, and the routing table.
//!
//! [`cold`] keeps the code of paths most requests never take out of their callers'.
//!
//! Beside the pipeline, for operators: [`admin`] (the admin API's access, routes, errors,
//! contract, record changes and view) and [`credential`] (the format of generated secrets and client ids).

pub mod admin;
pub mod assertion;
pub mod audience;
pub mod binding;
pub mod claims;
pub mod client;
pub mod cold;
pub mod config;
pub mod credential;
pub mod deployment;
pub mod dpop;
pub mod error;
pub mod federation;
pub mod form;
pub mod gate;
pub mod guard;
pub mod introspect;
pub mod json;
pub mod jwk;
pub mod jwks_cache;
pub mod keys;
pub mod limit;
pub mod mtls;
pub mod record;
pub mod request;
pub mod scope;
pub mod secret;
pub mod sign;
pub mod token;
pub mod unknown;
