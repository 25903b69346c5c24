//! What the demo binary and the chapter examples share on the command line.
//!
//! Several of them may run at once while a reader follows the book (the
//! demo stays up from chapter 6 on), so a port that is taken is the error a
//! learner meets first. It gets one plain line with a way out, from here,
//! instead of an `Os { code: 98, .. }` dump.

use std::fmt::Display;
use std::io;
use std::process::ExitCode;

/// The line to print when binding `addr` failed with `err`.
///
/// ```
/// use std::io::{Error, ErrorKind};
/// let err = Error::from(ErrorKind::AddrInUse);
/// let line = realtime_events::cli::cannot_listen("127.0.0.1:8080", &err);
/// assert!(line.starts_with("cannot listen on 127.0.0.1:8080: address already in use"));
/// assert!(line.contains("--addr 127.0.0.1:0"));
/// ```
pub fn cannot_listen(addr: impl Display, err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::AddrInUse => format!(
            "cannot listen on {addr}: address already in use \
             (is another example or the demo running? try --addr 127.0.0.1:0)"
        ),
        io::ErrorKind::PermissionDenied => format!(
            "cannot listen on {addr}: permission denied \
             (ports below 1024 need privileges; try a port above 1024)"
        ),
        _ => format!("cannot listen on {addr}: {err}"),
    }
}

/// Prints [`cannot_listen`] on stderr and returns the exit code to end with.
pub fn exit_cannot_listen(addr: impl Display, err: &io::Error) -> ExitCode {
    eprintln!("{}", cannot_listen(addr, err));
    ExitCode::FAILURE
}
