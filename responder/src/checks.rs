//! The personas of the checks beyond MS17-010 (issue 18) and what they add to a host: SMB 3.1.1
//! compression, a disclosed server start time, and which named pipes an anonymous caller opens
//! on IPC$. They are not in the demo's ten hosts ([`crate::personas::personas`]); tests start
//! them by name through [`crate::persona`].
//!
//! Values come from the captures in `../shared/captures` (read with tshark; nothing replayed) or,
//! where none exists, from [MS-SMB2] / [MS-CIFS]; each persona's comment names its source.

use smb1scan_protocol::message::filetime_from_system_time;
use smb1scan_protocol::smb2::compression::algorithm;
use smb1scan_protocol::smb2::negotiate::Smb2Dialect;
use smb1scan_protocol::NtStatus;

use crate::personas::{NtlmIdentity, PeekBehaviour, Persona, Smb1Persona, Smb2Persona};

/// What a persona adds for the new checks; [`traits`] gives the empty set to the demo hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckTraits {
    /// Compression algorithms the server implements, in its order; empty = no compression
    /// context in its 3.1.1 NEGOTIATE response (Windows before 1903, or DisableCompression = 1).
    pub compression: &'static [u16],
    /// ServerStartTime as Unix seconds; `None` = 0 on the wire, as Windows 10 and Samba send.
    pub boot_time_unix: Option<i64>,
    /// Pipes an anonymous caller opens on IPC$.
    pub open_pipes: &'static [&'static str],
    /// Pipes the server does not have (STATUS_OBJECT_NAME_NOT_FOUND); any other is
    /// STATUS_ACCESS_DENIED, Windows' answer to a null session since Server 2003.
    pub absent_pipes: &'static [&'static str],
}

/// The demo hosts: no compression, no start time, every pipe denied.
const NONE: CheckTraits = CheckTraits {
    compression: &[],
    boot_time_unix: None,
    open_pipes: &[],
    absent_pipes: &[],
};

/// Windows 10 1903/1909 implement LZNT1, LZ77 and LZ77+Huffman ([MS-SMB2] 2.2.3.1.3 and its
/// product behaviour notes; Pattern_V1 came with 2004).
const WIN10_1909_COMPRESSION: &[u16] =
    &[algorithm::LZ77, algorithm::LZ77_HUFFMAN, algorithm::LZNT1];

/// 2020-09-08 (a Patch Tuesday after both SMBGhost's and SMBleed's fixes), Unix seconds.
const BOOT_AFTER_FIXES: i64 = 1_599_523_200;

/// The extras of persona `name`.
pub fn traits(name: &str) -> CheckTraits {
    match name {
        "win10-1909-compression" => CheckTraits {
            compression: WIN10_1909_COMPRESSION,
            ..NONE
        },
        "win10-1909-patched-rebooted" => CheckTraits {
            compression: WIN10_1909_COMPRESSION,
            boot_time_unix: Some(BOOT_AFTER_FIXES),
            ..NONE
        },
        // A domain controller: NullSessionPipes keeps netlogon, lsarpc and samr for old clients;
        // the Computer Browser service is off since 2012 R2, so its pipe does not exist.
        "win2012r2-anonymous-pipes" => CheckTraits {
            open_pipes: &["netlogon", "lsarpc", "samr"],
            absent_pipes: &["browser"],
            ..NONE
        },
        // Samba answers every IPC$ pipe it serves; a default smb.conf serves these.
        "samba-4.5.9-nas" => CheckTraits {
            open_pipes: &["lsarpc", "samr", "netlogon", "spoolss"],
            absent_pipes: &["browser"],
            ..NONE
        },
        _ => NONE,
    }
}

/// ServerStartTime as a FILETIME (0 when the persona does not disclose it).
pub fn boot_filetime(name: &str) -> u64 {
    traits(name)
        .boot_time_unix
        .and_then(|t| u64::try_from(t).ok())
        .map(|t| {
            filetime_from_system_time(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t))
        })
        .unwrap_or(0)
}

/// How persona `name` answers an open of `pipe` (with or without a leading backslash or
/// `\PIPE\`, any case): `None` = opened, else the error status.
pub fn pipe_status(name: &str, pipe: &str) -> Option<NtStatus> {
    let p = pipe.trim_start_matches('\\').to_ascii_lowercase();
    let p = p.strip_prefix("pipe\\").unwrap_or(&p);
    let t = traits(name);
    if t.open_pipes.contains(&p) {
        None
    } else if t.absent_pipes.contains(&p) {
        Some(NtStatus::OBJECT_NAME_NOT_FOUND)
    } else {
        Some(NtStatus::ACCESS_DENIED)
    }
}

/// The data of the COMPRESSION_CAPABILITIES context persona `name` answers to a client that
/// offered `offered` ([MS-SMB2] 3.3.5.4): the common algorithms in the client's order, or NONE
/// alone when there is none; `None` (no context) when the persona does not compress.
pub fn compression_context(name: &str, offered: &[u16]) -> Option<Vec<u8>> {
    let t = traits(name);
    if t.compression.is_empty() {
        return None;
    }
    let mut common: Vec<u16> = offered
        .iter()
        .copied()
        .filter(|a| t.compression.contains(a))
        .collect();
    if common.is_empty() {
        common.push(algorithm::NONE);
    }
    let mut d = Vec::with_capacity(8 + 2 * common.len());
    d.extend_from_slice(&(common.len() as u16).to_le_bytes()); // CompressionAlgorithmCount
    d.extend_from_slice(&0u16.to_le_bytes()); // Padding
    d.extend_from_slice(&0u32.to_le_bytes()); // Flags
    for a in common {
        d.extend_from_slice(&a.to_le_bytes());
    }
    Some(d)
}

/// Windows 10 SMB2 up to 3.1.1 (win10-19041-smb2-negotiate-311.pcap: SM 0x01, Caps 0x2f,
/// 8 MiB).
const WIN10_SMB2: Smb2Persona = Smb2Persona {
    dialects: &[
        Smb2Dialect::SMB2_0_2,
        Smb2Dialect::SMB2_1,
        Smb2Dialect::SMB3_0,
        Smb2Dialect::SMB3_0_2,
        Smb2Dialect::SMB3_1_1,
    ],
    security_mode: 0x01,
    capabilities: 0x07,
    capabilities_3x: 0x2f,
    max_size: 8_388_608,
};

/// Windows 10 1909 NTLMSSP: version 10.0.18363 (the build [MS-NLMP] 2.2.2.10 carries; no 1909
/// capture exists, the flags are the win10-19041 capture's), a workgroup host.
const WIN10_1909_NTLM: NtlmIdentity = NtlmIdentity {
    netbios_computer: "ULTRASOUND-03",
    netbios_domain: "ULTRASOUND-03",
    dns_computer: "ultrasound-03",
    dns_domain: "ultrasound-03",
    dns_tree: None,
    version: (10, 0, 18363),
    flags: 0x6289_8215,
    timestamp: true,
};

/// The check personas, started by name in tests.
pub static CHECK_PERSONAS: [Persona; 4] = [
    Persona {
        name: "win10-1909-compression",
        description: "Windows 10 Pro 1909 (build 18363) without the March 2020 update, SMB1 off, SMB 3.1.1 compression offered",
        expected: "smbghost likely-vulnerable and smbleed likely-vulnerable (build 18363, LZ77 offered, start time not disclosed); ms17_010 not-exposed",
        smb1: None,
        smb2: Some(WIN10_SMB2),
        ntlm: WIN10_1909_NTLM,
        anonymous_refused: None,
        peek: PeekBehaviour::Status(NtStatus::ACCESS_DENIED),
        implant: None,
    },
    Persona {
        name: "win10-1909-patched-rebooted",
        description: "Windows 10 Pro 1909 updated and restarted after the SMBGhost and SMBleed fixes; it discloses that start time (real Windows 10 sends 0: this host exercises the boot-time rule)",
        expected: "smbghost unknown and smbleed unknown, reason booted-after-fix (compression still offered; the update cannot be seen)",
        smb1: None,
        smb2: Some(WIN10_SMB2),
        ntlm: NtlmIdentity {
            netbios_computer: "ULTRASOUND-04",
            netbios_domain: "ULTRASOUND-04",
            dns_computer: "ultrasound-04",
            dns_domain: "ultrasound-04",
            ..WIN10_1909_NTLM
        },
        anonymous_refused: None,
        peek: PeekBehaviour::Status(NtStatus::ACCESS_DENIED),
        implant: None,
    },
    Persona {
        name: "samba-4.5.9-nas",
        description: "a NAS (PACS storage) on Samba 4.5.9, in the SambaCry range, SMB1 on",
        expected: "sambacry likely-vulnerable (4.5.9 < 4.5.10; writable share not tested); ms17_010 not-vulnerable (0xC0000008); eol_os unknown (samba-host-os)",
        // samba-4.5.2-debian-smb1-negotiate-session-setup.pcap: Flags 0x88, SM 0x03, Mpx 50,
        // Buf 16644, Caps 0x8080f3fd (CAP_UNIX), NativeOS "Windows 6.1"; the lab's Samba answers
        // the MS17-010 peek with STATUS_INVALID_HANDLE.
        smb1: Some(Smb1Persona {
            flags: 0x88,
            security_mode: 0x03,
            max_mpx_count: 50,
            max_buffer_size: 16644,
            capabilities: 0x8080_f3fd,
            time_zone: 0,
            negotiate_spnego: true,
            native_os: "Windows 6.1",
            native_lanman: "Samba 4.5.9",
            dos_errors: false,
        }),
        // Samba 4.5 speaks up to 3.1.1; SecurityMode 0x01 as the lab's Samba (127.0.0.2).
        smb2: Some(Smb2Persona {
            capabilities: 0x01,
            capabilities_3x: 0x01,
            max_size: 8_388_608,
            ..WIN10_SMB2
        }),
        // Samba's NTLMSSP version is 6.1.0 (samba-4.5.2-debian and samba-4.4.16 captures).
        ntlm: NtlmIdentity {
            netbios_computer: "PACS-NAS",
            netbios_domain: "WORKGROUP",
            dns_computer: "pacs-nas",
            dns_domain: "",
            dns_tree: None,
            version: (6, 1, 0),
            flags: 0xa28a_0205, // samba-4.5.2-debian capture's CHALLENGE
            timestamp: true,
        },
        anonymous_refused: None,
        peek: PeekBehaviour::Status(NtStatus::INVALID_HANDLE),
        implant: None,
    },
    Persona {
        name: "win2012r2-anonymous-pipes",
        description: "Windows Server 2012 R2 domain controller without MS17-010, anonymous session accepted, netlogon/lsarpc/samr open to it",
        expected: "ms17_010 vulnerable, anonymous pipes reachable (netlogon, lsarpc, samr), browser absent, spoolss denied: exploitable rank 1; signing required",
        // win2012r2-dc-unpatched-ms17-010-check-wannacry.pcap: SM 0x0f, NativeOS "Windows Server
        // 2012 R2 Datacenter Evaluation 9600", PeekNamedPipe -> STATUS_INSUFF_SERVER_RESOURCES.
        smb1: Some(Smb1Persona {
            flags: 0x98,
            security_mode: 0x0f,
            max_mpx_count: 50,
            max_buffer_size: 16644,
            capabilities: 0x8001_f3fc,
            time_zone: 0,
            negotiate_spnego: true,
            native_os: "Windows Server 2012 R2 Datacenter Evaluation 9600",
            native_lanman: "Windows Server 2012 R2 Datacenter Evaluation 6.3",
            dos_errors: false,
        }),
        smb2: Some(Smb2Persona {
            dialects: &[
                Smb2Dialect::SMB2_0_2,
                Smb2Dialect::SMB2_1,
                Smb2Dialect::SMB3_0,
                Smb2Dialect::SMB3_0_2,
            ],
            security_mode: 0x03,
            capabilities: 0x07,
            capabilities_3x: 0x27,
            max_size: 8_388_608,
        }),
        ntlm: NtlmIdentity {
            netbios_computer: "DC02",
            netbios_domain: "HOSPITAL",
            dns_computer: "dc02.hospital.local",
            dns_domain: "hospital.local",
            dns_tree: Some("hospital.local"),
            version: (6, 3, 9600),
            flags: 0xe289_8215,
            timestamp: true,
        },
        anonymous_refused: None,
        peek: PeekBehaviour::Status(NtStatus::INSUFF_SERVER_RESOURCES),
        implant: None,
    },
];
