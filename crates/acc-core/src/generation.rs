//! The ACC generation's life (specification 1.4): one `GenerationPhase` for the whole
//! fleet. The management server keeps every phase in its policy document; a site server is
//! sent the generations in provisioning, active or retiring, and treats a removed one as
//! absent.

use serde::{Deserialize, Serialize};

/// The phase of an ACC generation (1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GenerationPhase {
    /// Saved, site servers are creating its accounts.
    Provisioning,
    /// What agents use now.
    Active,
    /// The previous active generation, still accepted until removal (the grace period).
    Retiring,
    /// Cancelled or retired; its name is never accepted again, and site servers no longer
    /// maintain it.
    Removed,
}

impl GenerationPhase {
    /// The word on the wire (`provisioning`, `active`, `retiring`, `removed`).
    pub const fn as_str(self) -> &'static str {
        match self {
            GenerationPhase::Provisioning => "provisioning",
            GenerationPhase::Active => "active",
            GenerationPhase::Retiring => "retiring",
            GenerationPhase::Removed => "removed",
        }
    }

    /// Whether site servers maintain accounts of a generation in this phase.
    pub fn is_maintained(self) -> bool {
        self != GenerationPhase::Removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_lower_case_words_and_only_removed_is_not_maintained() {
        for (phase, word, maintained) in [
            (GenerationPhase::Provisioning, "provisioning", true),
            (GenerationPhase::Active, "active", true),
            (GenerationPhase::Retiring, "retiring", true),
            (GenerationPhase::Removed, "removed", false),
        ] {
            assert_eq!(serde_json::to_string(&phase).unwrap(), format!("\"{word}\""));
            assert_eq!(serde_json::from_str::<GenerationPhase>(&format!("\"{word}\"")).unwrap(), phase);
            assert_eq!(phase.is_maintained(), maintained);
        }
    }
}
