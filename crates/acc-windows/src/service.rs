//! The agent as a Windows service: service `acc`, shown as "acc agent", started
//! automatically at boot, restarted by the service control manager when it fails, stopped
//! cleanly when the manager says stop.
//!
//! [`Spec`] is the configuration, decided here and unit-tested on every platform: what the
//! manager runs (`acc.exe agent service run --config FILE`, absolute paths, because a
//! service starts in `C:\Windows\System32`), the start type and the recovery actions;
//! [`respond`] is what the service does with each control. On Windows, [`install`],
//! [`uninstall`], [`start`] and [`stop`] talk to the service control manager through the
//! `windows-service` crate, and [`run_dispatcher`] hands the process to it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The service name (`sc query acc`, `net stop acc`).
pub const NAME: &str = "acc";
/// The name the Services application shows.
pub const DISPLAY_NAME: &str = "acc agent";
/// The description the Services application shows.
pub const DESCRIPTION: &str = "acc agent: checks in with the management server, registers with a site server, runs tasks and downloads packages.";

/// A service configuration that cannot be installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    /// A path the service manager would resolve from System32.
    #[error(
        "{what} '{path}' is not an absolute path; a service starts in C:\\Windows\\System32, give the full path (such as C:\\ProgramData\\acc\\acc.yml)"
    )]
    NotAbsolute {
        /// `the configuration` or `the executable`.
        what: &'static str,
        /// As given.
        path: String,
    },
    /// A path with a character the service command line cannot carry.
    #[error("{what} '{path}' contains a double quote, which a service command line cannot carry; rename it")]
    Quote {
        /// `the configuration` or `the executable`.
        what: &'static str,
        /// As given.
        path: String,
    },
    /// The service control manager refused (Windows only).
    #[error("service {NAME}: {action}: {reason}")]
    Manager {
        /// What was being done.
        action: &'static str,
        /// Windows' reason, with a hint when one helps.
        reason: String,
    },
}

/// What the service control manager is told about the `acc` service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// [`NAME`].
    pub name: &'static str,
    /// [`DISPLAY_NAME`].
    pub display_name: &'static str,
    /// [`DESCRIPTION`].
    pub description: &'static str,
    /// `acc.exe`, absolute.
    pub executable: PathBuf,
    /// `agent service run --config FILE`.
    pub arguments: Vec<OsString>,
    /// Started at boot (`SERVICE_AUTO_START`).
    pub automatic: bool,
    /// Restart delays after the first, second and later failures.
    pub restarts: [Duration; 3],
    /// Failures counted over this long before the count starts again.
    pub reset_after: Duration,
    /// Recovery also when the agent exits with an error, not only when it crashes.
    pub restart_on_error_exit: bool,
}

fn checked(what: &'static str, path: &Path) -> Result<(), ServiceError> {
    let shown = path.display().to_string();
    if shown.contains('"') {
        return Err(ServiceError::Quote { what, path: shown });
    }
    // `C:\…` or `\\server\share\…`; `Path::is_absolute` answers for the platform built
    // for, and this decision is tested on Linux too.
    let bytes = shown.as_bytes();
    let drive = bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && matches!(bytes[2], b'\\' | b'/');
    if !(drive || shown.starts_with(r"\\") || path.is_absolute()) {
        return Err(ServiceError::NotAbsolute { what, path: shown });
    }
    Ok(())
}

/// The service for `executable` (this `acc.exe`) running the agent with `config`.
pub fn spec(executable: &Path, config: &Path) -> Result<Spec, ServiceError> {
    checked("the executable", executable)?;
    checked("the configuration", config)?;
    Ok(Spec {
        name: NAME,
        display_name: DISPLAY_NAME,
        description: DESCRIPTION,
        executable: executable.to_path_buf(),
        arguments: ["agent", "service", "run", "--config"]
            .into_iter()
            .map(OsString::from)
            .chain([config.as_os_str().to_owned()])
            .collect(),
        automatic: true,
        restarts: [Duration::from_secs(5), Duration::from_secs(30), Duration::from_secs(60)],
        reset_after: Duration::from_secs(24 * 3600),
        restart_on_error_exit: true,
    })
}

/// A control the service control manager sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// `net stop acc`, the Services application's Stop, `acc agent service stop`.
    Stop,
    /// The machine shuts down.
    Shutdown,
    /// "Report your status."
    Interrogate,
    /// Pause, parameter change and the rest.
    Other,
}

/// The service's answer to a control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Accepted; `true`: the agent stops now.
    Done(bool),
    /// Not a control the agent handles (the manager tells the caller so).
    NotImplemented,
}

/// What the agent does with `control`: stop and shutdown end it cleanly, interrogate is
/// answered, the rest are not implemented (the agent accepts only stop and shutdown).
pub fn respond(control: Control) -> Reply {
    match control {
        Control::Stop | Control::Shutdown => Reply::Done(true),
        Control::Interrogate => Reply::Done(false),
        Control::Other => Reply::NotImplemented,
    }
}

#[cfg(windows)]
pub use self::windows::{install, run_dispatcher, start, stop, uninstall};

#[cfg(windows)]
#[allow(unsafe_code)] // define_windows_service! writes the extern "system" entry point
mod windows {
    use std::ffi::OsString;
    use std::sync::Mutex;
    use std::sync::mpsc;
    use std::time::Duration;

    use windows_service::service::{
        ServiceAccess, ServiceAction, ServiceActionType, ServiceControl, ServiceControlAccept,
        ServiceErrorControl, ServiceExitCode, ServiceFailureActions, ServiceFailureResetPeriod, ServiceInfo,
        ServiceStartType, ServiceState, ServiceStatus, ServiceType,
    };
    use windows_service::service_control_handler::{self, ServiceControlHandlerResult};
    use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};

    use super::{Control, NAME, Reply, ServiceError, Spec, respond};

    fn manager_error(action: &'static str) -> impl Fn(windows_service::Error) -> ServiceError {
        move |e| {
            let (code, detail) = match &e {
                windows_service::Error::Winapi(io) => (io.raw_os_error(), format!(": {io}")),
                _ => (None, String::new()),
            };
            let hint = match code {
                Some(5) => "; access denied: run it from an elevated prompt (Run as administrator)",
                Some(1060) => "; the service is not installed (acc agent service install)",
                Some(1073) => "; it is installed already (acc agent service uninstall first)",
                Some(1056) => "; it is running already",
                Some(1062) => "; it is not running",
                _ => "",
            };
            ServiceError::Manager { action, reason: format!("{e}{detail}{hint}") }
        }
    }

    fn manager(access: ServiceManagerAccess, action: &'static str) -> Result<ServiceManager, ServiceError> {
        ServiceManager::local_computer(None::<&str>, access).map_err(manager_error(action))
    }

    /// Installs the service described by `spec` (run as SYSTEM), whole or not at all;
    /// `Some(warning)` when the manager lacks a part that Windows has (Wine).
    pub fn install(spec: &Spec) -> Result<Option<String>, ServiceError> {
        let m = manager(ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE, "install")?;
        let info = ServiceInfo {
            name: OsString::from(spec.name),
            display_name: OsString::from(spec.display_name),
            service_type: ServiceType::OWN_PROCESS,
            start_type: if spec.automatic { ServiceStartType::AutoStart } else { ServiceStartType::OnDemand },
            error_control: ServiceErrorControl::Normal,
            executable_path: spec.executable.clone(),
            launch_arguments: spec.arguments.clone(),
            dependencies: vec![],
            account_name: None,
            account_password: None,
        };
        let service = m
            .create_service(
                &info,
                ServiceAccess::CHANGE_CONFIG | ServiceAccess::START | ServiceAccess::DELETE,
            )
            .map_err(manager_error("install"))?;
        let configured = service
            .set_description(spec.description)
            .map_err(manager_error("set the description"))
            .and_then(|()| {
                let actions = spec
                    .restarts
                    .iter()
                    .map(|&delay| ServiceAction { action_type: ServiceActionType::Restart, delay })
                    .collect();
                service
                    .update_failure_actions(ServiceFailureActions {
                        reset_period: ServiceFailureResetPeriod::After(spec.reset_after),
                        reboot_msg: None,
                        command: None,
                        actions: Some(actions),
                    })
                    .map_err(manager_error("set the recovery actions (restart on failure)"))
            })
            .and_then(|()| {
                match service.set_failure_actions_on_non_crash_failures(spec.restart_on_error_exit) {
                    Ok(()) => Ok(None),
                    // Windows has had this since Vista; Wine 8's service manager answers
                    // ERROR_INVALID_LEVEL. The restarts after a crash are in place.
                    Err(windows_service::Error::Winapi(io)) if io.raw_os_error() == Some(124) => Ok(Some(
                        "this service manager cannot restart the service after an error exit (only after a crash): SERVICE_CONFIG_FAILURE_ACTIONS_FLAG is not supported".to_string(),
                    )),
                    Err(e) => Err(manager_error("set recovery on an error exit")(e)),
                }
            });
        // Installed whole or not at all: a service without its recovery is removed again.
        if configured.is_err() {
            let _ = service.delete();
        }
        configured
    }

    /// Stops the service if it runs, then deletes it.
    pub fn uninstall() -> Result<(), ServiceError> {
        let m = manager(ServiceManagerAccess::CONNECT, "uninstall")?;
        let access = ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE;
        let service = m.open_service(NAME, access).map_err(manager_error("uninstall"))?;
        if service.query_status().map_err(manager_error("uninstall"))?.current_state != ServiceState::Stopped
        {
            let _ = service.stop();
        }
        service.delete().map_err(manager_error("uninstall"))
    }

    /// Starts the installed service.
    pub fn start() -> Result<(), ServiceError> {
        let m = manager(ServiceManagerAccess::CONNECT, "start")?;
        let service = m.open_service(NAME, ServiceAccess::START).map_err(manager_error("start"))?;
        service.start::<OsString>(&[]).map_err(manager_error("start"))
    }

    /// Asks the running service to stop.
    pub fn stop() -> Result<(), ServiceError> {
        let m = manager(ServiceManagerAccess::CONNECT, "stop")?;
        let service = m.open_service(NAME, ServiceAccess::STOP).map_err(manager_error("stop"))?;
        service.stop().map(|_| ()).map_err(manager_error("stop"))
    }

    /// The agent the dispatcher runs: given a receiver that yields once when the manager
    /// says stop, it runs until then (or fails, with the reason).
    pub type Body = Box<dyn FnOnce(mpsc::Receiver<()>) -> Result<(), String> + Send>;

    static BODY: Mutex<Option<Body>> = Mutex::new(None);

    windows_service::define_windows_service!(ffi_service_main, service_main);

    fn status(state: ServiceState, accept: ServiceControlAccept, exit: u32) -> ServiceStatus {
        ServiceStatus {
            service_type: ServiceType::OWN_PROCESS,
            current_state: state,
            controls_accepted: accept,
            exit_code: if exit == 0 {
                ServiceExitCode::Win32(0)
            } else {
                ServiceExitCode::ServiceSpecific(exit)
            },
            checkpoint: 0,
            wait_hint: Duration::from_secs(10),
            process_id: None,
        }
    }

    fn service_main(_arguments: Vec<OsString>) {
        let Some(body) = BODY.lock().ok().and_then(|mut b| b.take()) else { return };
        let (tx, rx) = mpsc::channel();
        let handler = move |control| {
            let control = match control {
                ServiceControl::Stop => Control::Stop,
                ServiceControl::Shutdown => Control::Shutdown,
                ServiceControl::Interrogate => Control::Interrogate,
                _ => Control::Other,
            };
            match respond(control) {
                Reply::Done(stop) => {
                    if stop {
                        let _ = tx.send(());
                    }
                    ServiceControlHandlerResult::NoError
                }
                Reply::NotImplemented => ServiceControlHandlerResult::NotImplemented,
            }
        };
        let Ok(handle) = service_control_handler::register(NAME, handler) else { return };
        let accept = ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN;
        let _ = handle.set_service_status(status(ServiceState::Running, accept, 0));
        let result = body(rx);
        // An error exit makes the manager apply the recovery actions (restart).
        let code = u32::from(result.is_err());
        let _ = handle.set_service_status(status(ServiceState::Stopped, ServiceControlAccept::empty(), code));
    }

    /// Hands this process to the service control manager, which runs `body` as the `acc`
    /// service; returns when the service has stopped. Fails when the process was not
    /// started by the manager.
    pub fn run_dispatcher(body: Body) -> Result<(), ServiceError> {
        if let Ok(mut slot) = BODY.lock() {
            *slot = Some(body);
        }
        windows_service::service_dispatcher::start(NAME, ffi_service_main).map_err(|e| ServiceError::Manager {
            action: "run",
            reason: format!(
                "{e}; `acc agent service run` is started by the service control manager (acc agent service start), use `acc agent run` by hand"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_runs_this_executable_with_the_configuration_starts_at_boot_and_restarts() {
        let exe = Path::new(r"C:\Program Files\acc\acc.exe");
        let s = spec(exe, Path::new(r"C:\ProgramData\acc\acc.yml")).unwrap();
        assert_eq!((s.name, s.display_name), ("acc", "acc agent"));
        assert_eq!(s.executable, exe);
        assert_eq!(
            s.arguments,
            ["agent", "service", "run", "--config", r"C:\ProgramData\acc\acc.yml"].map(OsString::from)
        );
        assert!(s.automatic && s.restart_on_error_exit);
        assert!(s.restarts.iter().all(|d| !d.is_zero()) && s.restarts.is_sorted());
        assert_eq!(s.reset_after, Duration::from_secs(86_400));
        // UNC paths and forward slashes are absolute too.
        spec(Path::new(r"\\srv\tools\acc.exe"), Path::new("D:/acc/acc.yml")).unwrap();
    }

    #[test]
    fn relative_or_quoted_paths_are_refused_with_the_reason() {
        let exe = Path::new(r"C:\acc\acc.exe");
        let e = spec(exe, Path::new("acc.yml")).unwrap_err().to_string();
        assert!(e.starts_with("the configuration 'acc.yml' is not an absolute path; a service starts in C:\\Windows\\System32"), "{e}");
        let e = spec(Path::new(r"acc\acc.exe"), Path::new(r"C:\acc.yml")).unwrap_err().to_string();
        assert!(e.starts_with("the executable 'acc\\acc.exe' is not an absolute path"), "{e}");
        let e = spec(exe, Path::new("C:\\a\"b\\acc.yml")).unwrap_err().to_string();
        assert!(e.contains("contains a double quote"), "{e}");
    }

    #[test]
    fn stop_and_shutdown_end_the_agent_and_nothing_else_does() {
        assert_eq!(respond(Control::Stop), Reply::Done(true));
        assert_eq!(respond(Control::Shutdown), Reply::Done(true));
        assert_eq!(respond(Control::Interrogate), Reply::Done(false));
        assert_eq!(respond(Control::Other), Reply::NotImplemented);
    }
}
