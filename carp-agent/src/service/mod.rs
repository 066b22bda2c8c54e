//! Running under a service manager: the systemd notification protocol
//! (readiness, status, watchdog, reload, stop) and logging to the journal.
//! Both do nothing outside systemd: without `NOTIFY_SOCKET` no notification
//! is sent, and without a journal on stderr the log stays plain stderr.
pub mod logging;
pub mod memory;
pub mod notify;
