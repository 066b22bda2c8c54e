//! Proves the kernel-side build chain: the embedded XDP object loads into the
//! running kernel and runs under BPF_PROG_TEST_RUN.
#![allow(clippy::unwrap_used)] // a test's unwrap is its failure report
use aya::programs::{TestRun as _, TestRunOptions};
use carp_agent::dataplane;
use carp_tests::privileges::require_root;

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;

fn run(ebpf: &mut aya::Ebpf, input: &[u8]) -> u32 {
    let prog = dataplane::xdp_program(ebpf).unwrap();
    let mut out = vec![0u8; input.len() + 256];
    let opts = TestRunOptions {
        data_in: Some(input),
        data_out: Some(&mut out),
        ..Default::default()
    };
    prog.test_run(opts).expect("BPF_PROG_TEST_RUN").return_value
}

#[test]
fn carp_advert_is_counted_and_other_traffic_is_not() {
    if !require_root("carp_advert_is_counted_and_other_traffic_is_not") {
        return;
    }
    let mut ebpf = dataplane::load().expect("load the embedded XDP object");
    // The ucarp capture (Ethernet + IPv4 + CARP).
    let advert = carp_agent::testdata::ucarp::frame();
    // A valid advert for a vhid this interface does not have: counted, dropped.
    assert_eq!(run(&mut ebpf, &advert), XDP_DROP);
    assert_eq!(run(&mut ebpf, &advert), XDP_DROP);

    // The same frame with protocol 6 (TCP) instead of 112 is not CARP.
    let mut tcp = advert.clone();
    tcp[14 + 9] = 6;
    assert_eq!(run(&mut ebpf, &tcp), XDP_PASS);
    // A frame cut inside the IPv4 header must not be read past its end.
    assert_eq!(run(&mut ebpf, &advert[..20]), XDP_PASS);

    let stats = dataplane::read_stats(&ebpf).unwrap();
    assert_eq!(stats.ipackets, 2, "{stats:?}");
    assert_eq!(stats.ipackets6, 0, "{stats:?}");
    assert_eq!(stats.badvhid, 2, "{stats:?}");
}

#[test]
fn object_carries_btf_for_bpftool() {
    use object::{Object as _, ObjectSection as _};
    // BTF is what makes `bpftool map dump` print field names; the object must have it.
    let obj = object::File::parse(dataplane::XDP_OBJECT).expect("the XDP object is ELF");
    let btf = obj
        .section_by_name(".BTF")
        .expect("the XDP object has a .BTF section");
    assert!(btf.size() > 0);
    assert!(
        obj.section_by_name("xdp").is_some(),
        "the program lives in section xdp"
    );
}
