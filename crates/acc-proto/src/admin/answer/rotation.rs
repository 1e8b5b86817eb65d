//! The credential rotation's answer (`GET /v1/credential/status`): its phase, the
//! generations, the one in provisioning, each site's acknowledgements and the agents'
//! adoption.

use acc_core::generation::GenerationPhase;
use acc_core::lockout::GenerationAck;
use serde::{Deserialize, Serialize};

use crate::site::AccountState;

/// Where the credential rotation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RotationPhase {
    /// A new generation is being created on the sites.
    Provisioning,
    /// The previous generation waits for its retirement.
    Retiring,
    /// One active generation.
    Steady,
}

impl RotationPhase {
    /// The word on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            RotationPhase::Provisioning => "provisioning",
            RotationPhase::Retiring => "retiring",
            RotationPhase::Steady => "steady",
        }
    }
}

/// One generation of `GET /v1/credential/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GenerationView {
    /// Its number.
    pub generation: u32,
    /// Its user name.
    pub user_name: String,
    /// Its phase.
    #[schemars(with = "String")]
    pub phase: GenerationPhase,
    /// When it was saved (Unix milliseconds).
    pub saved_at: i64,
    /// When it retires (Unix milliseconds).
    pub retire_deadline: Option<i64>,
}

/// The generation in provisioning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Provisioning {
    /// Its number.
    pub generation: u32,
    /// Its user name.
    pub user_name: String,
    /// The sites that have not created it.
    pub pending_sites: Vec<String>,
    /// It waits longer than it should.
    pub stalled: bool,
}

/// One site's acknowledgements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SiteRotation {
    /// The site.
    pub site: String,
    /// The revision it applied.
    pub applied_revision: Option<i64>,
    /// Its acknowledgements of the generations of that revision.
    #[schemars(with = "Vec<serde_json::Value>", description = "As acc-core defines it.")]
    pub acks: Vec<GenerationAck>,
    /// The managed accounts' states there.
    pub accounts: Vec<AccountState>,
}

/// The agents' adoption of the active generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Adoption {
    /// The active generation.
    pub generation: Option<u32>,
    /// Agents.
    pub agents: usize,
    /// Agents that hold it (or use certificates).
    pub holding: usize,
    /// The first 100 that do not.
    pub pending: Vec<String>,
}

/// `GET /v1/credential/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RotationStatus {
    /// The revision in force.
    pub revision: i64,
    /// Where the rotation stands.
    pub phase: RotationPhase,
    /// `rotation.grace`, seconds.
    pub rotation_grace: u64,
    /// The generations.
    pub generations: Vec<GenerationView>,
    /// The generation in provisioning.
    pub provisioning: Option<Provisioning>,
    /// Each site's acknowledgements.
    pub sites: Vec<SiteRotation>,
    /// The agents' adoption.
    pub adoption: Adoption,
}
