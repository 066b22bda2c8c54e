//! `net::offload::strips_vlan_tags` reads the receive VLAN offload the way
//! `ethtool -k` shows it: on a veth it starts on, and `ethtool -K rxvlan
//! off` turns the answer to false. A missing interface is an error naming it.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use carp_agent::net::offload::strips_vlan_tags;
use carp_tests::{
    netns::{Netns, veth_pair},
    privileges::require_root,
};

fn ifindex(ns: &Netns, dev: &str) -> u32 {
    ns.enter(|| {
        let name = std::ffi::CString::new(dev).unwrap();
        // SAFETY: a valid NUL-terminated name.
        unsafe { libc::if_nametoindex(name.as_ptr()) }
    })
}

#[test]
fn receive_vlan_offload_is_read_as_ethtool_shows_it() {
    if !require_root("receive_vlan_offload_is_read_as_ethtool_shows_it") {
        return;
    }
    let a = Netns::new("offa").unwrap();
    let b = Netns::new("offb").unwrap();
    veth_pair(&a, "va", &b, "vb").unwrap();
    let index = ifindex(&a, "va");
    let read = || a.enter(|| strips_vlan_tags("va", index));
    assert!(read().unwrap(), "a veth starts with rx-vlan-offload on");
    let out = a.run("ethtool", &["-K", "va", "rxvlan", "off"]).unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(!read().unwrap(), "off after ethtool -K va rxvlan off");
    let err = a.enter(|| strips_vlan_tags("nosuch0", 0)).unwrap_err();
    assert!(err.to_string().contains("nosuch0"), "{err}");
}
