//! `acc site shares add|list|grant|revoke` as admin requests: the JSON shape that travels
//! over the admin socket (or is handled offline) and its handling. One variant of
//! `admin::Request` carries a [`SharesRequest`], so both paths go through [`handle`].

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AceTarget, GrantArgs};
use crate::error::SiteError;
use crate::site::Site;

/// One share administration request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum SharesRequest {
    /// Create a share (and its folder).
    Add {
        /// The name.
        name: String,
        /// Start with the default ACLs (`Agents` Read at both levels) instead of empty ones.
        #[serde(default)]
        agents_read: bool,
    },
    /// Every share with its ACLs.
    List,
    /// Grant a right.
    Grant(GrantArgs),
    /// Revoke a principal's Allow at one level.
    Revoke(AceTarget),
}

/// Carries out one request on the site's shares.
pub async fn handle(site: &Site, request: SharesRequest) -> Result<Value, SiteError> {
    let shares = site.shares();
    let writer = site.writer();
    Ok(match request {
        SharesRequest::Add { name, agents_read } => to_value(shares.add(writer, &name, agents_read).await?),
        SharesRequest::List => to_value(shares.list()),
        SharesRequest::Grant(g) => {
            let (share, changed) = shares.grant(writer, &g).await?;
            json!({ "share": share, "changed": changed })
        }
        SharesRequest::Revoke(t) => {
            let (share, changed) = shares.revoke(writer, &t).await?;
            json!({ "share": share, "changed": changed })
        }
    })
}

fn to_value(v: impl Serialize) -> Value {
    serde_json::to_value(v).unwrap_or_default()
}
