//! Domain-form logons on a joined site (specification 2.4 D2–D3): the attempt goes to the
//! management server's directory over the site's mTLS channel (one kept connection); the
//! site then writes the 4624/4625 of what the directory decided. When the directory cannot
//! be reached the site writes 4625 Status 0xC000005E and answers `unavailable` (D3); no
//! counter changes anywhere.

use acc_net::client::Connection;
use acc_proto::{DirectoryAnswer, DirectoryLogon};
use bytes::Bytes;

use crate::error::SiteError;
use crate::layout::Layout;
use crate::management::{Nodes, connect};

/// The directory as a joined site reaches it.
pub struct DirectoryClient {
    nodes: Nodes,
    conn: tokio::sync::Mutex<Option<Connection>>,
}

impl std::fmt::Debug for DirectoryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryClient").field("nodes", &self.nodes).finish_non_exhaustive()
    }
}

impl DirectoryClient {
    /// The directory of the management server, on the node in use of `nodes`.
    pub fn new(nodes: Nodes) -> DirectoryClient {
        DirectoryClient { nodes, conn: tokio::sync::Mutex::new(None) }
    }

    /// Asks the directory; `Err` when it cannot be reached or answers nothing usable.
    pub async fn logon(&self, layout: &Layout, req: &DirectoryLogon) -> Result<DirectoryAnswer, SiteError> {
        let body = Bytes::from(serde_json::to_vec(req).unwrap_or_default());
        let mut slot = self.conn.lock().await;
        // A kept connection may have been closed by the server: one retry on a fresh one.
        for attempt in 0..2 {
            if slot.is_none() {
                *slot = Some(connect(layout, &self.nodes).await?);
            }
            let Some(conn) = slot.as_mut() else { continue };
            match conn
                .send(
                    "POST",
                    "/v1/site/directory/logon",
                    &[("content-type", "application/json")],
                    body.clone(),
                )
                .await
            {
                Ok(resp) if resp.status.is_success() => {
                    return serde_json::from_slice(&resp.body)
                        .map_err(|e| SiteError::Management(format!("directory answer: {e}")));
                }
                Ok(resp) => {
                    return Err(SiteError::Management(format!("the directory refused: {}", resp.status)));
                }
                Err(e) => {
                    *slot = None;
                    if attempt == 1 {
                        return Err(SiteError::Management(e.to_string()));
                    }
                }
            }
        }
        Err(SiteError::Management("the directory cannot be reached".into()))
    }
}
