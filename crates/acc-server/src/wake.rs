//! The server's wake-up channels: one `update-config` counter for the site servers' policy
//! long-polls and one for the agents' (every increment makes each waiting one answer), and
//! the stop flag that makes every waiting long-poll answer "nothing new" at once.

use tokio::sync::watch;

/// Whose long-polls an `update-config` wakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The site servers' policy long-polls.
    Sites,
    /// The agents' check-ins.
    Agents,
}

/// The counters and the stop flag; each is taken only here.
#[derive(Debug)]
pub struct LongPolls {
    sites: watch::Sender<u64>,
    agents: watch::Sender<u64>,
    stopping: watch::Sender<bool>,
}

impl Default for LongPolls {
    fn default() -> Self {
        LongPolls {
            sites: watch::Sender::new(0),
            agents: watch::Sender::new(0),
            stopping: watch::Sender::new(false),
        }
    }
}

impl LongPolls {
    fn counter(&self, audience: Audience) -> &watch::Sender<u64> {
        match audience {
            Audience::Sites => &self.sites,
            Audience::Agents => &self.agents,
        }
    }

    /// LongPollss the long-polls of `audience` (one more `update-config`).
    pub fn force(&self, audience: Audience) {
        self.counter(audience).send_modify(|f| *f += 1);
    }

    /// A receiver of `audience`'s `update-config` counter.
    pub fn subscribe(&self, audience: Audience) -> watch::Receiver<u64> {
        self.counter(audience).subscribe()
    }

    /// The server begins to stop.
    pub fn begin_stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Whether the server is stopping.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// A receiver of the stop flag.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }
}
