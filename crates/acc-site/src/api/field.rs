//! The check every name an agent sends gets, in a header (`Acc-Agent-Id`, see `auth`) or a
//! registration field (`register`): not empty, not longer than [`MAX_FIELD`] characters,
//! no control character.

use super::error::ApiError;

/// Longest value of an agent-supplied field.
pub const MAX_FIELD: usize = 256;

/// Refuses the value of the field `name` when it is empty, too long or holds a control
/// character, naming the field.
pub(super) fn check_field(name: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::malformed(format!("'{name}' is empty")));
    }
    if value.chars().count() > MAX_FIELD {
        return Err(ApiError::malformed(format!("'{name}' is longer than {MAX_FIELD} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::malformed(format!("'{name}' contains a control character")));
    }
    Ok(())
}
