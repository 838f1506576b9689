//! The admin API's decisions (docs/admin-api.md), one file per idea: who may call it
//! ([`auth`]), what a path means ([`routes`]), how it refuses ([`error`]), the types of its
//! requests and answers that the CLI compiles too ([`contract`]), the checks of each member
//! ([`validate`]), every change to a client record ([`changes`]) and what it shows of a
//! client ([`view`]).
//!
//! Pure like the rest of the core: the edge passes in the clock, random bytes, the stored
//! record and the guard object's answers, and carries out the writes prepared here.

pub mod auth;
pub mod changes;
pub mod contract;
pub mod error;
pub mod routes;
pub mod validate;
pub mod view;

pub use auth::{check_admin_token, AdminAccess, MIN_ADMIN_TOKEN_BYTES};
pub use changes::{DEFAULT_OVERLAP_SECONDS, DEFAULT_TOKEN_TTL, MAX_OVERLAP_SECONDS};
pub use contract::{
    parse_body, BlockList, BlockedSource, Cleared, ClientInfo, ClientUpdate, Deleted, ErrorBody,
    ListEntry, ListPage, NewClient, NewSecret, QuotaReport, Rotation, SecretInfo, API_ROOT,
};
pub use error::AdminError;
pub use routes::{parse_route, AdminRequest, Route, ADMIN_PREFIX};

/// The largest admin request body.
pub const MAX_ADMIN_BODY_BYTES: usize = 16 * 1024;
