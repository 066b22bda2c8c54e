//! Known-good frames captured from real peers: the reference the codec, the
//! `decode` tool and the XDP program are all tested against. One copy here,
//! used by this crate's unit and integration tests and by `carp-tests`.

/// An advertisement captured from ucarp 1.5.2 on Linux, the test vector of
/// docs/protocol.md.
pub mod ucarp {
    use std::net::Ipv4Addr;

    /// The whole frame as hex words, as a user would paste it into
    /// `carp-agent decode`: Ethernet (to 01:00:5e:00:00:12 from
    /// 00:00:5e:00:00:01, IPv4), IPv4 (TOS 0x10, id 0x8d9b, DF, TTL 255,
    /// 10.99.0.1 to 224.0.0.18), CARP v2 (vhid 1, advbase 1, advskew 0,
    /// counter, HMAC).
    pub const FRAME_HEX: &str = "01005e000012 00005e000001 0800 \
        4510 0038 8d9b 4000 ff70 0334 0a630001 e0000012 \
        2101 0007 0001 a0cc c5a7b31362fc34fc 070a441a588d0d91b2e88f3566a757c2f970823a";
    /// Where the IPv4 header starts (no VLAN tag).
    pub const IP_OFFSET: usize = 14;
    /// Where the CARP header starts (IPv4 without options).
    pub const CARP_OFFSET: usize = IP_OFFSET + 20;

    /// The vhid's password.
    pub const PASSWORD: &str = "secret";
    /// The vhid's one virtual address.
    pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);
    /// ucarp's source address.
    pub const SRC: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
    pub const VHID: u8 = 1;
    /// The 64-bit replay counter of the advert.
    pub const COUNTER: u64 = 0xc5a7_b313_62fc_34fc;
    /// The HMAC-SHA1 the advert carries, over PASSWORD, VIP, vhid and COUNTER.
    pub const DIGEST_HEX: &str = "070a441a588d0d91b2e88f3566a757c2f970823a";

    /// The frame's bytes.
    pub fn frame() -> Vec<u8> {
        let digits: String = FRAME_HEX.split_whitespace().collect();
        hex::decode(digits).expect("FRAME_HEX is valid hex")
    }
}

/// A log destination for tests: a tracing subscriber writes into it
/// (`fmt().with_writer(move || buffer.clone())`), the test reads the lines.
#[derive(Clone, Default)]
pub struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl LogBuffer {
    /// Everything written so far, one string per line.
    pub fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
