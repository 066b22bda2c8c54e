//! `carp-agent decode`: decode and authenticate advertisements given as hex or
//! read from a pcap/pcapng capture, one line per advertisement.

use std::{
    fmt,
    net::IpAddr,
    path::{Path, PathBuf},
};

use anyhow::{Context as _, bail};
use pcap_file::{
    DataLink,
    pcap::PcapReader,
    pcapng::{Block, PcapNgReader},
};

use crate::{
    config::{MAX_PASSWORD_FILE_BYTES, ReadError, Vip, read_bounded},
    node::{SealKey, Unsigned},
    proto::{
        Advertisement, Auth, AuthKey, DecodeError, Envelope, LinkLocalVips, VipSet,
        link::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_QINQ, ETHERTYPE_VLAN},
    },
};

/// Decode CARP advertisements and check them against a password and VIP set.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Prints one line per advertisement: source, vhid, advbase, advskew, demote,
counter, then `ok` or the carpstats counter name and the reason.

Exit status: 0 if every advertisement is valid and authenticates, 1 if any is
not (or a capture holds none), 2 on usage errors.

Example:
  carp-agent decode --password-file /etc/carp-agent/vhid1.pass --vip 10.99.0.100 \\
      01005e000012 00005e000001 0800 4510 0038 ...")]
#[command(group(clap::ArgGroup::new("input").required(true).args(["hex", "pcap"])))]
#[command(group(clap::ArgGroup::new("secret").required(true).args(["password", "password_file"])))]
pub struct DecodeArgs {
    /// Password of the vhid (at most 19 bytes; may be empty).
    #[arg(long)]
    pub password: Option<String>,
    /// Read the password from FILE (one trailing \n or \r\n is dropped).
    #[arg(long, value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// A virtual address of the vhid; repeat for each. Written as in the
    /// agent's configuration; the /prefix and an IPv6 link-local %zone are
    /// checked and then ignored (the HMAC covers the address alone).
    #[arg(long = "vip", value_name = "ADDR[/PREFIX]", required = true)]
    pub vips: Vec<String>,
    /// Read every IP protocol 112 frame of a pcap or pcapng file.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// One Ethernet frame or bare IP packet in hex; may be split into several
    /// words, with `0x` prefixes and `:` separators.
    #[arg(value_name = "HEX")]
    pub hex: Vec<String>,
}

/// Runs the subcommand; the returned value is the process exit status.
pub fn run(args: &DecodeArgs) -> anyhow::Result<i32> {
    let key = read_key(args)?;
    let auth = Auth::new(&key, parse_vips(&args.vips)?);
    let seal = SealKey::derive(&key);
    let auth = (&auth, &seal);
    let mut out = Output::new(std::io::stdout().lock());
    let Some(path) = &args.pcap else {
        let bytes = parse_hex(&args.hex)?;
        let report = Report::inspect(&bytes, guess_framing(&bytes), auth);
        out.line(format_args!("{report}"))?;
        return Ok(if report.is_ok() { 0 } else { 1 });
    };
    let mut seen = 0;
    let mut all_ok = true;
    let frames = for_each_frame(path, |number, framing, bytes| {
        let report = Report::inspect(bytes, framing, auth);
        // Other traffic in a capture is expected: skip what is not protocol
        // 112, or too short to tell.
        if report.is_foreign() {
            return Ok(());
        }
        seen += 1;
        all_ok &= report.is_ok();
        out.line(format_args!("frame {number}: {report}"))?;
        Ok(())
    })?;
    if seen == 0 {
        eprintln!(
            "carp-agent: no CARP (IP protocol 112) frame in {} ({frames} frames read)",
            path.display()
        );
        return Ok(1);
    }
    Ok(if all_ok { 0 } else { 1 })
}

/// Standard output that may be closed early: `decode capture.pcap | head`
/// is normal use, so once the reader is gone the remaining lines are
/// dropped and the exit status still tells whether every advert was valid.
struct Output<W> {
    writer: W,
    closed: bool,
}

impl<W: std::io::Write> Output<W> {
    fn new(writer: W) -> Self {
        Self {
            writer,
            closed: false,
        }
    }

    fn line(&mut self, line: fmt::Arguments<'_>) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match writeln!(self.writer, "{line}") {
            Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            result => result,
        }
    }
}

fn read_key(args: &DecodeArgs) -> anyhow::Result<AuthKey> {
    if let Some(path) = &args.password_file {
        let bytes = read_bounded(path, MAX_PASSWORD_FILE_BYTES)
            .with_context(|| format!("--password-file {}: cannot read", path.display()))?;
        return AuthKey::from_password_file(&bytes)
            .with_context(|| format!("--password-file {}", path.display()));
    }
    let password = args.password.as_deref().unwrap_or_default();
    // The error names the length, never the password itself.
    AuthKey::from_password(password.as_bytes()).context("--password")
}

/// Addresses as the agent's configuration takes them ([`Vip::parse_zoned`]);
/// the prefix and zone do not enter the HMAC.
fn parse_vips(vips: &[String]) -> anyhow::Result<VipSet> {
    vips.iter()
        .map(|text| {
            Vip::parse_zoned(text)
                .map(|(vip, _zone)| vip.addr)
                .map_err(|why| anyhow::anyhow!("--vip {text}: {why}"))
        })
        .collect()
}

/// Joins the HEX words into bytes, accepting whitespace, `:` and `0x`.
fn parse_hex(words: &[String]) -> anyhow::Result<Vec<u8>> {
    let mut digits = Vec::new();
    for (index, word) in words.iter().flat_map(|w| w.split_whitespace()).enumerate() {
        let bare = ["0x", "0X"]
            .iter()
            .find_map(|prefix| word.strip_prefix(prefix))
            .unwrap_or(word);
        for c in bare.chars().filter(|&c| c != ':') {
            let Some(digit) = c.to_digit(16) else {
                bail!(
                    "HEX word {} ({word:?}): {c:?} is not a hex digit",
                    index + 1
                );
            };
            digits.push(digit as u8);
        }
    }
    if digits.is_empty() {
        bail!("HEX: no hex digits given");
    }
    if digits.len() % 2 != 0 {
        bail!(
            "HEX: odd number of hex digits ({}); a frame is whole bytes",
            digits.len()
        );
    }
    Ok(digits
        .chunks(2)
        .map(|pair| pair[0] << 4 | pair[1])
        .collect())
}

/// How a capture or HEX argument frames its packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Ethernet,
    Ip,
}

/// Tells a bare IP packet from an Ethernet frame. A CARP frame begins with a
/// multicast MAC (01:… or 33:…), so a first nibble of 4 or 6 almost always
/// means IP; when the bytes also look like Ethernet, the reading that finds
/// an IP packet wins.
fn guess_framing(bytes: &[u8]) -> Framing {
    let ip_like = matches!(bytes.first().map(|b| b >> 4), Some(4 | 6));
    let ethernet_like = bytes.get(12..14).is_some_and(|t| {
        let ethertype = u16::from_be_bytes([t[0], t[1]]);
        [
            ETHERTYPE_IPV4,
            ETHERTYPE_IPV6,
            ETHERTYPE_VLAN,
            ETHERTYPE_QINQ,
        ]
        .contains(&ethertype)
    });
    match (ip_like, ethernet_like) {
        (true, false) => Framing::Ip,
        (true, true) if Envelope::parse_frame(bytes).is_err() => Framing::Ip,
        _ => Framing::Ethernet,
    }
}

/// What one frame turned out to be.
struct Report {
    /// Known once the IP header is read.
    src: Option<IpAddr>,
    /// The header fields, if there are 36 payload bytes to read them from,
    /// even when the advert is rejected.
    fields: Option<Advertisement>,
    verdict: Result<LinkLocalVips, DecodeError>,
    /// The sequence of a carp-agent sealed counter whose tag is right.
    sealed: Option<u64>,
}

impl Report {
    fn inspect(bytes: &[u8], framing: Framing, (auth, seal): (&Auth, &SealKey)) -> Report {
        let envelope = match framing {
            Framing::Ethernet => Envelope::parse_frame(bytes),
            Framing::Ip => Envelope::parse_ip(bytes),
        };
        let envelope = match envelope {
            Ok(envelope) => envelope,
            Err(err) => {
                return Report {
                    src: None,
                    fields: None,
                    verdict: Err(err),
                    sealed: None,
                };
            }
        };
        let fields = envelope.payload().ok().and_then(Advertisement::peek);
        let sealed = fields.and_then(|a| {
            let unsigned = Unsigned {
                vhid: a.vhid,
                advbase: a.advbase,
                advskew: a.advskew,
                demote: a.demote,
            };
            seal.open(unsigned, a.counter, envelope.src)
        });
        Report {
            src: Some(envelope.src),
            fields,
            verdict: envelope.advertisement().and_then(|advert| {
                auth.verify_form(advert.vhid, advert.counter, &advert.md)
                    .ok_or(DecodeError::BadAuth)
            }),
            sealed,
        }
    }

    fn is_ok(&self) -> bool {
        self.verdict.is_ok()
    }

    /// Not protocol 112, or cut before the protocol could be read.
    fn is_foreign(&self) -> bool {
        self.src.is_none()
            && matches!(
                self.verdict,
                Err(DecodeError::NotCarp(_) | DecodeError::TooShort { .. })
            )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(src) = self.src {
            write!(f, "{src} ")?;
        }
        if let Some(a) = &self.fields {
            write!(
                f,
                "vhid {} advbase {} advskew {} demote {} counter {:016x} ",
                a.vhid, a.advbase, a.advskew, a.demote, a.counter
            )?;
        }
        match &self.verdict {
            Ok(LinkLocalVips::Included) => f.write_str("ok"),
            Ok(LinkLocalVips::Omitted) => {
                f.write_str("ok (OpenBSD digest: link-local VIPs left out)")
            }
            Err(err) => return write!(f, "{}: {err}", err.counter_name()),
        }?;
        // A carp-agent sender's counter (docs/protocol.md, "Sealed
        // counters"): a sequence with a tag over the unsigned fields. A
        // plain counter (FreeBSD, ucarp, OpenBSD, or fields changed after
        // signing) adds nothing.
        match self.sealed {
            Some(sequence) => write!(f, ", sealed sequence {sequence}"),
            None => Ok(()),
        }
    }
}

/// Largest capture read: it is read whole into memory.
pub const MAX_PCAP_BYTES: u64 = 256 << 20;

/// Calls `visit` with the 1-based number, framing and bytes of every packet
/// of a pcap or pcapng file; returns how many packets there were.
fn for_each_frame(
    path: &Path,
    mut visit: impl FnMut(usize, Framing, &[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<usize> {
    let data = match read_bounded(path, MAX_PCAP_BYTES) {
        Ok(data) => data,
        Err(err @ ReadError::TooLarge { .. }) => bail!(
            "--pcap {}: {err}; keep only the adverts: tcpdump -r {} -w OUT 'ip proto 112 or ip6 proto 112'",
            path.display(),
            path.display()
        ),
        Err(err) => bail!("--pcap {}: cannot read: {err}", path.display()),
    };
    let context = || format!("--pcap {}", path.display());
    let mut number = 0;
    match data.get(..4) {
        Some([0x0a, 0x0d, 0x0d, 0x0a]) => {
            let mut reader = PcapNgReader::new(data.as_slice()).with_context(context)?;
            // Link types of the current section's interfaces, by interface id.
            let mut links: Vec<DataLink> = Vec::new();
            while let Some(block) = reader.next_block() {
                let (interface, bytes) = match block.with_context(context)? {
                    Block::SectionHeader(_) => {
                        links.clear();
                        continue;
                    }
                    Block::InterfaceDescription(idb) => {
                        links.push(idb.linktype);
                        continue;
                    }
                    Block::EnhancedPacket(epb) => (epb.interface_id as usize, epb.data),
                    Block::SimplePacket(spb) => (0, spb.data),
                    Block::Packet(pb) => (usize::from(pb.interface_id), pb.data),
                    _ => continue,
                };
                number += 1;
                let Some(&link) = links.get(interface) else {
                    bail!("{}: frame {number}: no interface {interface}", context());
                };
                visit_packet(link, number, &bytes, &mut visit)
                    .with_context(|| format!("{}: frame {number}", context()))?;
            }
        }
        Some(
            [0xa1, 0xb2, 0xc3, 0xd4]
            | [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x4d, 0x3c, 0xb2, 0xa1],
        ) => {
            let mut reader = PcapReader::new(data.as_slice()).with_context(context)?;
            let link = reader.header().datalink;
            while let Some(packet) = reader.next_packet() {
                number += 1;
                let packet = packet.with_context(|| format!("{}: frame {number}", context()))?;
                visit_packet(link, number, &packet.data, &mut visit)
                    .with_context(|| format!("{}: frame {number}", context()))?;
            }
        }
        _ => bail!("{}: not a pcap or pcapng file", context()),
    }
    Ok(number)
}

/// Strips the link-layer header a capture adds, down to what the decoder reads.
fn visit_packet(
    link: DataLink,
    number: usize,
    bytes: &[u8],
    visit: &mut impl FnMut(usize, Framing, &[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    // Linux cooked captures carry the ethertype in their own header.
    let cooked = |protocol_at: usize, header_len: usize| {
        let protocol = bytes.get(protocol_at..protocol_at + 2)?;
        let protocol = u16::from_be_bytes([protocol[0], protocol[1]]);
        let ip = [ETHERTYPE_IPV4, ETHERTYPE_IPV6].contains(&protocol);
        ip.then(|| &bytes[header_len..])
    };
    let (framing, bytes) = match link {
        DataLink::ETHERNET => (Framing::Ethernet, bytes),
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => (Framing::Ip, bytes),
        DataLink::LINUX_SLL => match cooked(14, 16) {
            Some(ip) => (Framing::Ip, ip),
            None => return Ok(()),
        },
        DataLink::LINUX_SLL2 => match cooked(0, 20) {
            Some(ip) => (Framing::Ip, ip),
            None => return Ok(()),
        },
        other => bail!(
            "link type {} is not supported (Ethernet, raw IP, Linux cooked SLL/SLL2 are)",
            u32::from(other)
        ),
    };
    visit(number, framing, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn hex_accepts_words_prefixes_and_colons() {
        assert_eq!(
            parse_hex(&words("0x01:00 5e\t00 0X0012")).unwrap(),
            [0x01, 0x00, 0x5e, 0x00, 0x00, 0x12]
        );
    }

    #[test]
    fn hex_errors_say_where() {
        let err = parse_hex(&words("0100 5z")).unwrap_err().to_string();
        assert_eq!(err, "HEX word 2 (\"5z\"): 'z' is not a hex digit");
        let err = parse_hex(&words("010")).unwrap_err().to_string();
        assert!(err.contains("odd number of hex digits (3)"), "{err}");
    }

    #[test]
    fn vips_take_prefixes_and_zones() {
        let set = parse_vips(&words("10.0.0.1/24 fe80::1%eth0/64 2001:db8::1")).unwrap();
        assert_eq!(set.ipv4().len(), 1);
        assert_eq!(set.ipv6().len(), 2);
        let err = parse_vips(&words("10.0.0.300")).unwrap_err().to_string();
        assert_eq!(err, "--vip 10.0.0.300: invalid IP address");
        let err = parse_vips(&words("10.0.0.1/33")).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "--vip 10.0.0.1/33: prefix length 33 is out of range 1..=32"
        );
        // What the agent refuses, decode refuses too.
        let err = parse_vips(&words("10.0.0.1/0")).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "--vip 10.0.0.1/0: prefix length 0 is out of range 1..=32"
        );
        let err = parse_vips(&words("10.0.0.1%eth0")).unwrap_err();
        assert!(format!("{err:#}").contains("only valid on an IPv6 link-local"));
    }

    /// A writer whose reader went away after `room` bytes.
    struct ClosedAfter {
        room: usize,
        written: Vec<u8>,
    }

    impl std::io::Write for ClosedAfter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.written.len() + buf.len() > self.room {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_output_drops_the_rest_and_other_errors_stay_errors() {
        let mut out = Output::new(ClosedAfter {
            room: 6,
            written: Vec::new(),
        });
        out.line(format_args!("one")).unwrap();
        out.line(format_args!("two")).unwrap();
        out.line(format_args!("three")).unwrap();
        assert!(out.closed);
        assert_eq!(out.writer.written, b"one\n");

        struct Full;
        impl std::io::Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        assert!(Output::new(Full).line(format_args!("x")).is_err());
    }

    #[test]
    fn framing_guess() {
        let ucarp = crate::testdata::ucarp::frame();
        assert_eq!(
            guess_framing(&ucarp[crate::testdata::ucarp::IP_OFFSET..]),
            Framing::Ip
        );
        let mut frame = vec![
            0x01, 0x00, 0x5e, 0, 0, 0x12, 0, 0, 0x5e, 0, 0, 1, 0x08, 0x00,
        ];
        assert_eq!(guess_framing(&frame), Framing::Ethernet);
        // A unicast MAC beginning with 0x4_, followed by a real IPv4 header.
        frame[0] = 0x42;
        frame.extend_from_slice(&[0x45, 0, 0, 20, 0, 0, 0, 0, 255, 112]);
        frame.resize(34, 0);
        assert_eq!(guess_framing(&frame), Framing::Ethernet);
    }
}
