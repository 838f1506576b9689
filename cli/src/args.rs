//! The command line: every command, its arguments and their `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::keys::Alg;

/// Manage an edge-token deployment: clients and secrets, signing keys, tokens.
#[derive(Parser)]
#[command(name = "edge-token-admin", version, propagate_version = true)]
pub struct Cli {
    /// Print JSON instead of text (for scripts); errors go to stderr as JSON too.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The command groups.
#[derive(Subcommand)]
// Parsed once per run: the size of the largest group (a client's settings) costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Clients and their secrets, through the Worker's admin API.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Signing keys in a JWK Set file or in .dev.vars.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Access tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Source addresses blocked after failed authentications, through the admin API.
    #[command(subcommand)]
    Blocks(BlocksCommand),
    /// Token requests per tenant, client, outcome and reason, from the deployed token
    /// Worker's Analytics Engine dataset (the Cloudflare API; the API token is read from
    /// CLOUDFLARE_API_TOKEN, with the permission Account Analytics Read).
    Usage(UsageArgs),
}

/// The `usage` arguments.
#[derive(Args)]
pub struct UsageArgs {
    /// How far back: minutes, hours or days, such as 30m, 24h, 7d (at most 90d).
    #[arg(long, default_value = "24h")]
    pub since: String,
    /// Only this tenant.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Only this client: its id, or the tag its log lines show in place of an id.
    #[arg(long, allow_hyphen_values = true)]
    pub client: Option<String>,
    /// The Cloudflare account id of the deployment.
    #[arg(long, env = "CLOUDFLARE_ACCOUNT_ID")]
    pub account: Option<String>,
    /// The dataset: wrangler.toml's `analytics_engine_datasets` of the environment
    /// (edge_token_usage, edge_token_usage_staging, edge_token_usage_production).
    #[arg(long, default_value = "edge_token_usage")]
    pub dataset: String,
    /// The Cloudflare API's origin (https; no user name, path or query).
    #[arg(long, default_value = "https://api.cloudflare.com")]
    pub api_url: String,
}

/// The `blocks` commands.
#[derive(Subcommand)]
pub enum BlocksCommand {
    /// List the blocked addresses, until when, and how many blocks each had (each block
    /// lasts twice the one before: 30 s, 60 s, … up to 15 min).
    List {
        /// Where the admin API is.
        #[command(flatten)]
        target: Target,
    },
    /// Forget one address's (or every one's) block and failures in its shard, so its next
    /// block is a first one again; an isolate that already refuses it does so until the
    /// current block ends.
    Clear {
        /// Where the admin API is.
        #[command(flatten)]
        target: Target,
        /// The address, e.g. 127.0.0.1 (an IPv6 address stands for its /64).
        source: Option<String>,
        /// Clear every address.
        #[arg(long, conflicts_with = "source")]
        all: bool,
    },
}

/// Where the admin API is and how to authenticate to it.
#[derive(Args, Clone)]
pub struct Target {
    /// The admin Worker's origin (https, or http on loopback; no user name, path or query).
    /// The admin token is read from the EDGE_TOKEN_ADMIN_TOKEN environment variable or, for
    /// a loopback URL, from ADMIN_TOKEN in --dev-vars.
    #[arg(long, env = "EDGE_TOKEN_URL", default_value = "http://127.0.0.1:8788")]
    pub url: String,
    /// The tenant whose clients to manage.
    #[arg(long, env = "EDGE_TOKEN_TENANT", default_value = "default")]
    pub tenant: String,
    /// The local secrets file of `wrangler dev` (read for ADMIN_TOKEN on loopback URLs).
    #[arg(long, default_value = ".dev.vars")]
    pub dev_vars: PathBuf,
}

/// One client of the tenant.
#[derive(Args)]
pub struct ClientRef {
    /// Where the admin API is.
    #[command(flatten)]
    pub target: Target,
    /// The client id.
    #[arg(allow_hyphen_values = true)]
    pub client_id: String,
}

/// The `client` commands.
#[derive(Subcommand)]
pub enum ClientCommand {
    /// Register a client: the id is generated unless given; the secret is shown once. With
    /// --jwks or --jwks-uri, a private_key_jwt client: no secret, its public keys instead.
    Create {
        /// Where the admin API is.
        #[command(flatten)]
        target: Target,
        /// A client id of your choice (default: 22 random characters).
        #[arg(long)]
        id: Option<String>,
        /// The algorithm of a --jwks or --jwks-uri client's assertions: EdDSA (default), ES256,
        /// RS256, PS256.
        #[arg(long)]
        signing_alg: Option<String>,
        /// Its settings.
        #[command(flatten)]
        fields: Fields,
    },
    /// Show a client: settings, creation time, secrets (by id) and when each was last used.
    Show(ClientRef),
    /// Show a client's quota and the tokens counted against it this hour and this day.
    Usage(ClientRef),
    /// List the tenant's clients with their scopes, audience and last use.
    List {
        /// Where the admin API is.
        #[command(flatten)]
        target: Target,
    },
    /// Change a client's settings; what is not named stays as it is.
    Update {
        /// The client.
        #[command(flatten)]
        client: ClientRef,
        /// The settings to change.
        #[command(flatten)]
        fields: Fields,
        /// Go back to the default rate limit (600 per minute, burst 50).
        #[arg(long, conflicts_with_all = ["per_minute", "burst"])]
        default_rate_limit: bool,
        /// Remove the client's quota.
        #[arg(long, conflicts_with_all = ["quota_hour", "quota_day", "quota_mode"])]
        no_quota: bool,
        /// Tokens whose request names no audience get every audience again (no default).
        #[arg(long, conflicts_with = "default_audience")]
        all_audiences: bool,
        /// Remove every custom claim.
        #[arg(long, conflicts_with = "claim")]
        clear_claims: bool,
    },
    /// Refuse the client everywhere, at once (through its guard object).
    Disable(ClientRef),
    /// Serve the client again.
    Enable(ClientRef),
    /// Delete a client: refused at once, its record removed.
    Delete {
        /// The client.
        #[command(flatten)]
        client: ClientRef,
        /// Confirm the deletion (it cannot be undone).
        #[arg(long)]
        yes: bool,
    },
    /// Give the client a new secret (shown once); the current one works until an expiry.
    RotateSecret {
        /// The client.
        #[command(flatten)]
        client: ClientRef,
        /// How long the current secret keeps working, e.g. 30s, 15m, 24h, 7d (default 24h).
        #[arg(long, conflicts_with = "old_expires_at")]
        old_expires_in: Option<String>,
        /// When the current secret stops working, in Unix seconds.
        #[arg(long)]
        old_expires_at: Option<u64>,
    },
    /// Refuse one of the client's secrets at once and remove it.
    RetireSecret {
        /// The client.
        #[command(flatten)]
        client: ClientRef,
        /// The secret's id, as `client show` lists it.
        secret_id: String,
    },
    /// Print a client assertion (private_key_jwt, RFC 7523) signed with a private key file,
    /// to try a client: pass it as client_assertion. It is accepted once, for --ttl seconds.
    Assertion {
        /// A JWK Set file of Ed25519 private keys (`keys generate --out FILE`); the first signs.
        #[arg(long)]
        key: PathBuf,
        /// The client id: the assertion's iss and sub.
        #[arg(long, allow_hyphen_values = true)]
        client: String,
        /// Its aud: the tenant's issuer or token endpoint URL.
        #[arg(
            long,
            env = "EDGE_TOKEN_ISSUER",
            default_value = "http://127.0.0.1:8787"
        )]
        audience: String,
        /// Seconds until it expires (1-300).
        #[arg(long, default_value_t = 60)]
        ttl: u64,
    },
}

/// A client's settings, for create and update.
#[derive(Args, Default)]
pub struct Fields {
    /// Scopes the client may be granted, space-separated, e.g. "orders:read orders:write".
    #[arg(long)]
    pub scopes: Option<String>,
    /// Scopes granted when a request names none (a subset of --scopes; "" for none).
    #[arg(long)]
    pub default_scopes: Option<String>,
    /// An audience its tokens may be for; repeat for several. A request picks some with
    /// `resource` or `audience`; one that names none gets --default-audience (or all).
    #[arg(long)]
    pub audience: Vec<String>,
    /// The `aud` of a token whose request names none (one of --audience); repeat for several.
    /// Default: every audience.
    #[arg(long)]
    pub default_audience: Vec<String>,
    /// A static claim of its tokens, NAME=VALUE; VALUE is JSON if it parses as JSON (42,
    /// true, ["a","b"], "\"42\""), else text. Repeat for several; on update, the claims
    /// given replace all the old ones. Names the token sets itself (iss, sub, aud, ...) are
    /// refused.
    #[arg(long, value_name = "NAME=VALUE")]
    pub claim: Vec<String>,
    /// Token lifetime in seconds (60-86400; default 3600).
    #[arg(long)]
    pub ttl: Option<u64>,
    /// Issuance limit: tokens per minute (with --burst).
    #[arg(long, requires = "burst")]
    pub per_minute: Option<u64>,
    /// Issuance limit: tokens at once (with --per-minute).
    #[arg(long, requires = "per_minute")]
    pub burst: Option<u64>,
    /// Quota: tokens per clock hour (UTC). A quota given on update replaces the old one.
    #[arg(long)]
    pub quota_hour: Option<u64>,
    /// Quota: tokens per UTC day.
    #[arg(long)]
    pub quota_day: Option<u64>,
    /// Quota mode: enforce (over quota: 429, the default) or monitor (counted and logged
    /// only). Needs --quota-hour or --quota-day.
    #[arg(long, value_enum)]
    pub quota_mode: Option<QuotaModeArg>,
    /// Grant types, space-separated (default "client_credentials").
    #[arg(long)]
    pub grant_types: Option<String>,
    /// A JWK Set file of the client's keys (private_key_jwt). Only the public members are
    /// sent: a private key file (`keys generate --out FILE`) may be given as it is.
    #[arg(long)]
    pub jwks: Option<PathBuf>,
    /// Or the https URL the token endpoint fetches the client's public keys from
    /// (private_key_jwt; http only to 127.0.0.1, [::1] or localhost, for local tests).
    #[arg(long, conflicts_with = "jwks")]
    pub jwks_uri: Option<String>,
    /// A federated_jwt client: the name of the tenant's trusted issuer whose tokens it
    /// authenticates with (TENANTS trusted_issuers); with --subject.
    #[arg(long, requires = "subject", conflicts_with_all = ["jwks", "jwks_uri"])]
    pub federated_issuer: Option<String>,
    /// The exact `sub` of the platform tokens a federated_jwt client accepts.
    #[arg(long, requires = "federated_issuer")]
    pub subject: Option<String>,
    /// A claim the platform token must carry, NAME=VALUE (VALUE as JSON when it parses, an
    /// object matching by its members: kubernetes.io='{"namespace":"ci"}'). Repeat for several.
    #[arg(long, requires = "federated_issuer")]
    pub subject_claim: Vec<String>,
    /// The client may call the introspection endpoint (RFC 7662: a resource server asking
    /// whether a token is still good).
    #[arg(long, conflicts_with = "no_introspect")]
    pub introspect: bool,
    /// The client may no longer call the introspection endpoint.
    #[arg(long)]
    pub no_introspect: bool,
    /// The client's tokens must be DPoP-bound (RFC 9449): a token request without a DPoP
    /// proof is refused.
    #[arg(long, conflicts_with = "no_dpop_bound")]
    pub dpop_bound: bool,
    /// The client's tokens need no longer be DPoP-bound (a proof still binds them).
    #[arg(long)]
    pub no_dpop_bound: bool,
    /// A tls_client_auth client (mutual TLS, RFC 8705): the exact subject DN of its
    /// CA-issued certificate, RFC 2253 form as Cloudflare reports it, e.g. "CN=svc,O=Example".
    #[arg(long, conflicts_with_all = ["jwks", "jwks_uri", "federated_issuer", "cert_sha256", "cert"])]
    pub subject_dn: Option<String>,
    /// A self_signed_tls_client_auth client (mutual TLS): the SHA-256 of its certificate's
    /// DER, hex (`openssl x509 -noout -fingerprint -sha256`); repeat for several. On update,
    /// the ones given replace the old ones.
    #[arg(long, value_name = "HEX", conflicts_with_all = ["jwks", "jwks_uri", "federated_issuer"])]
    pub cert_sha256: Vec<String>,
    /// Or its certificate as a PEM file, whose SHA-256 is sent; repeat for several.
    #[arg(long, value_name = "FILE.pem", conflicts_with_all = ["jwks", "jwks_uri", "federated_issuer"])]
    pub cert: Vec<PathBuf>,
    /// Its tokens are bound to the client certificate of the connection they are asked over
    /// (RFC 8705 §3): a request without one is refused. Not with --dpop-bound: a token is
    /// bound to one key at most.
    #[arg(long, conflicts_with_all = ["no_certificate_bound", "dpop_bound"])]
    pub certificate_bound: bool,
    /// Its tokens are no longer certificate-bound.
    #[arg(long)]
    pub no_certificate_bound: bool,
}

/// `--quota-mode`.
#[derive(Clone, Copy, ValueEnum)]
pub enum QuotaModeArg {
    /// Over quota: 429.
    Enforce,
    /// Counted and logged, never refused.
    Monitor,
}

/// The JWK Set to work on.
#[derive(Args)]
pub struct KeyFile {
    /// A JSON JWK Set file (what `wrangler secret put SIGNING_KEYS` takes). Without it, the
    /// SIGNING_KEYS line of --dev-vars is used.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// The local secrets file of `wrangler dev`.
    #[arg(long, default_value = ".dev.vars")]
    pub dev_vars: PathBuf,
}

/// The `keys` commands.
#[derive(Subcommand)]
pub enum KeysCommand {
    /// Write a new JWK Set file with one fresh signing key (for a new deployment).
    Generate {
        /// Where to write it (created with mode 0600; never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// The key's algorithm.
        #[arg(long, value_enum, default_value_t = Alg::Ed25519)]
        alg: Alg,
    },
    /// Generate a key and add it as "next": published in the JWKS, not yet signing.
    Add {
        /// The set.
        #[command(flatten)]
        keys: KeyFile,
        /// The key's algorithm.
        #[arg(long, value_enum, default_value_t = Alg::Ed25519)]
        alg: Alg,
    },
    /// Make a published key the signing key; the current one stays published.
    Promote {
        /// The set.
        #[command(flatten)]
        keys: KeyFile,
        /// The key's kid (see `keys list`). A base64url kid may start with `-`.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Promote even if the key was added less than 300 s ago (JWKS caches may not have it).
        #[arg(long)]
        force: bool,
    },
    /// Remove a key that no longer signs, once the tokens it signed have expired.
    Retire {
        /// The set.
        #[command(flatten)]
        keys: KeyFile,
        /// The key's kid. A base64url kid may start with `-`.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// The longest token lifetime of any client, in seconds.
        #[arg(long, default_value_t = 86_400)]
        max_token_ttl: u64,
        /// Remove it even if tokens it signed may still be live.
        #[arg(long)]
        force: bool,
    },
    /// List the keys: kid, role (signing, next, previous), when added and demoted.
    List {
        /// The set.
        #[command(flatten)]
        keys: KeyFile,
    },
}

/// The `token` commands.
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Decode a token and verify it against a running endpoint's JWKS (a debugging aid).
    Verify(Verify),
}

/// `token verify`'s arguments.
#[derive(Args)]
pub struct Verify {
    /// The token; read from standard input when absent or "-".
    pub token: Option<String>,
    /// The endpoint's origin (https, or http on loopback); the JWKS is that of the token's
    /// tenant (from its `iss`).
    #[arg(long, env = "EDGE_TOKEN_URL", default_value = "http://127.0.0.1:8787")]
    pub url: String,
    /// Also require this `iss`.
    #[arg(long)]
    pub issuer: Option<String>,
    /// Also require this value in `aud`.
    #[arg(long)]
    pub audience: Option<String>,
}
