//! acc-proto: the one typed contract of every `/v1` route: what the management server,
//! its site servers, agents and `acc ctl` say to each other, as types every side compiles
//! against. Words from a closed set (a mode, a status, a kind) are enums here, so no side
//! compares strings.
//!
//! Modules per area: [`join`] (tokens, `POST /v1/sites/join`, `POST /v1/agent/enroll`),
//! [`site`] (a joined site and the management server), [`agent`] (an agent and the
//! management server), [`admin`] (the admin API's request bodies), [`task`], [`package`],
//! [`agent_site`] (an agent and its site server), [`events`], [`health`], [`users`] (the
//! console's users). The types are
//! also re-exported at the crate root.
//!
//! - [`JoinToken`]: what `acc ctl site-token create` prints and `acc site join` reads: the
//!   server's URL, the SHA-256 of its CA certificate (so the site trusts exactly that CA
//!   without copying a file) and a one-time secret.
//! - [`JoinRequest`] / [`JoinResponse`]: `POST /v1/sites/join`.
//! - [`SitePolicy`]: `GET /v1/site/policy?after=REV&wait=S`, the part of a policy revision
//!   a site server applies (never a password: local generations carry their hash, K2).
//! - [`SiteAck`]: `POST /v1/site/ack`, what the site applied and the ACC's state there.
//! - [`EventBatch`]: `POST /v1/site/events`, a site's security events, forwarded at least
//!   once and de-duplicated by (site, sequence) on the server.
//! - [`Health`]: `GET /v1/health` of every role.
//! - [`agent_site`]: what an agent and its site server say to each other: the agent's
//!   headers, `POST /v1/register` and the token that binds the agent id, the refusals.
//! - [`authorization`]: the `Authorization` header's scheme (case-insensitive) and
//!   credentials, parsed alike by every role.
//! - [`events`]: paged searches of security events (`GET /v1/events`, `acc site events`).

pub mod admin;
pub mod agent;
pub mod agent_site;
pub mod authorization;
pub mod events;
pub mod health;
pub mod join;
pub mod openapi;
pub mod package;
pub mod site;
pub mod task;
pub mod users;

pub use agent::{AgentAuth, AgentCheckIn, AgentLimits, AgentPolicy, AuthMode, SiteEndpoint};
pub use events::{EVENT_PAGE, EventCursor, EventPage};
pub use health::Health;
pub use join::{
    EnrollRequest, JoinRequest, JoinResponse, JoinToken, NodeBundle, NodeJoinRequest, NodeJoinResponse,
    ReplacedSite, TokenError, TokenKind,
};
pub use package::{PackageFile, PackageManifest, PackageReport, PackageState, ReplicationStatus};
pub use site::{
    AccountState, DirectoryAnswer, DirectoryLogon, EventBatch, ForwardedEvent, SiteAck, SitePolicy,
};
