//! acc-windows: what the agent needs on Windows, kept apart because it calls the Win32 API.
//!
//! - [`acl`]: the key-file rule (the DACL equivalent of `chmod 0400`), pure logic over SDDL.
//! - [`service`]: the `acc` Windows service's configuration (pure), and on Windows its
//!   installation and the service control manager's dispatcher.
//! - `sys` (Windows only): the current account's SID, a file's DACL, files created with one.

pub mod acl;
pub mod service;
#[cfg(windows)]
#[allow(unsafe_code)]
pub mod sys;
