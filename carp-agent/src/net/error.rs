//! Errors of the network layer, each naming the interface and the operation.

use std::io;

/// A failed netlink request or raw-socket send.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("sysctl {path}: {source}")]
    Sysctl { path: String, source: io::Error },
    #[error("opening a netlink route socket ({purpose}): {source}")]
    Open {
        purpose: &'static str,
        source: io::Error,
    },
    #[error("no network interface named {name:?}")]
    UnknownInterface { name: String },
    #[error("looking up network interface {name:?}: {source}")]
    Lookup {
        name: String,
        source: rtnetlink::Error,
    },
    #[error("no network interface with index {index}")]
    UnknownIndex { index: u32 },
    /// The kernel (or the netlink connection) refused a request.
    #[error("{operation} on interface index {index}: {source}")]
    Netlink {
        operation: String,
        index: u32,
        source: rtnetlink::Error,
    },
    #[error("interface index {index}: the kernel's link message has no {what}")]
    Incomplete { index: u32, what: &'static str },
    #[error(
        "XDP on interface index {index} is held by a BPF link (another process owns it); \
         netlink cannot detach it"
    )]
    XdpLinkBusy { index: u32 },
    #[error("{operation} on interface index {ifindex}: {source}")]
    Socket {
        operation: String,
        ifindex: u32,
        source: io::Error,
    },
    #[error("sending {what} on interface index {ifindex}: only {sent} of {len} bytes went out")]
    ShortSend {
        what: &'static str,
        ifindex: u32,
        sent: usize,
        len: usize,
    },
}

/// The positive errno carried by a netlink NACK.
pub(crate) fn netlink_errno(error: &rtnetlink::Error) -> Option<i32> {
    match error {
        rtnetlink::Error::NetlinkError(message) => message.code.map(|code| code.get().abs()),
        _ => None,
    }
}
