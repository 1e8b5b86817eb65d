//! The operations on a site's agent identities (`crate::agents`): register an agent (its
//! binding decided under the bindings' lock and made durable), check a request's claim to
//! an id, forget an id, list the registered agents.

use acc_core::agent_binding::{self, Binding, Registration};
use acc_proto::agent_site::AgentToken;

use super::Site;
use crate::agents::store::{self, AgentWrite};
use crate::agents::{AgentView, Claim, NotBound, RegisterError, Registering, new_token, token_sha256};
use crate::error::SiteError;
use crate::store::Write;

fn bound_to(b: Option<&Binding>) -> &'static str {
    match b {
        Some(Binding::Bound { certificate: Some(_), .. }) => "token+certificate",
        Some(Binding::Bound { certificate: None, .. }) => "token",
        _ => "unbound",
    }
}

impl Site {
    /// Registers an agent: decides under the bindings' lock whether the id may be
    /// registered by this caller, binds it (a new token, or the one presented), and
    /// returns the agent's token once the registration and its binding are durable.
    pub async fn register_agent(&self, r: Registering<'_>) -> Result<AgentToken, RegisterError> {
        let id = r.row.agent_id.clone();
        let (pending, token, bound, previous) = {
            let mut map = self.agent_bindings().lock();
            let current = map.get(&id);
            let decision = agent_binding::register(current, &r.proof);
            let token = match (&decision, r.presented) {
                (Registration::Refuse, _) => return Err(RegisterError::Taken(id)),
                (Registration::Keep, Some(t)) => AgentToken::new(t),
                _ => new_token()?,
            };
            let bound =
                agent_binding::bound_after(current, &decision, &r.proof, token_sha256(token.expose()))
                    .ok_or(RegisterError::Taken(id.clone()))?;
            let write = AgentWrite::registered(r.row, &bound).ok_or(RegisterError::Taken(id.clone()))?;
            let previous = map.insert(id.clone(), bound.clone());
            (self.writer().submit(vec![Write::Agent(write)]), token, bound, previous)
        };
        if let Err(e) = pending.durable().await {
            // Not stored: memory goes back to what the database still says.
            let mut map = self.agent_bindings().lock();
            if map.get(&id) == Some(&bound) {
                match previous {
                    Some(p) => map.insert(id, p),
                    None => map.remove(&id),
                };
            }
            return Err(SiteError::from(e).into());
        }
        if previous.as_ref().is_some_and(|p| p != &bound) {
            // Long-polls waiting under the old binding end (they check it when woken).
            self.task_queue().wake(&id);
        }
        Ok(token)
    }

    /// Checks that a request presenting `claim` may act for `agent_id` (its tasks,
    /// results, downloads): the id is registered here and bound to this token or
    /// certificate.
    pub fn check_claim(&self, agent_id: &str, claim: &Claim) -> Result<(), NotBound> {
        if agent_binding::may_act(self.agent_bindings().lock().get(agent_id), &claim.proof()) {
            Ok(())
        } else {
            Err(NotBound(agent_id.to_string()))
        }
    }

    /// `acc site agents forget ID`: removes the registration and its binding; the next
    /// registration of the id binds it anew (the agent that held it registers again when
    /// the site refuses its token). Open tasks stay, for whoever registers the id next.
    pub async fn forget_agent(&self, agent_id: &str) -> Result<(), SiteError> {
        let pending = {
            let mut map = self.agent_bindings().lock();
            if map.remove(agent_id).is_none() {
                return Err(SiteError::UnknownAgent(agent_id.to_string()));
            }
            let forget = AgentWrite::Forgotten { agent_id: agent_id.to_string() };
            self.writer().submit(vec![Write::Agent(forget)])
        };
        pending.durable().await.map_err(SiteError::from)?;
        self.task_queue().wake(agent_id);
        tracing::info!(
            agent = agent_id,
            "Agent registration forgotten; the id binds at its next registration."
        );
        Ok(())
    }

    /// Registered agents, most recently seen first, with what each id is bound to.
    pub async fn agents(&self) -> Result<Vec<AgentView>, SiteError> {
        let rows = store::list(self.pool()).await?;
        let map = self.agent_bindings().lock();
        Ok(rows
            .into_iter()
            .map(|row| {
                let b = map.get(&row.agent_id);
                AgentView {
                    bound_to: bound_to(b),
                    binding: b.map_or_else(|| "unbound".to_string(), Binding::describe),
                    row,
                }
            })
            .collect())
    }
}
