//! The simulated hosts: one [`Persona`] per kind of machine a hospital network really holds.
//!
//! The protocol values below (security mode, MaxMpx, buffer sizes, capabilities, native OS/LAN
//! manager strings, NTLMSSP flags and versions, SMB2 dialects/capabilities/sizes, statuses) were
//! read as field values with tshark from the real Windows captures listed in
//! `../shared/captures/SOURCES.md`, or taken from the protocol documents where no capture exists;
//! the comment on each block names its source. Host names, domains and the implants' signature
//! keys are invented for the simulation. The responder builds every byte from these values with
//! its own code: nothing is replayed from a capture.

use smb1scan_protocol::smb2::negotiate::Smb2Dialect;
use smb1scan_protocol::NtStatus;

/// What the host does with the MS17-010 probe: TRANS PeekNamedPipe on FID 0 over IPC$.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeekBehaviour {
    /// Answer with this NT status and an empty body (the 35-byte response).
    Status(NtStatus),
    /// Answer with this DOS error (class, code), Flags2 without NT_STATUS.
    Dos(u8, u16),
    /// Never answer; keep the connection open.
    Silent,
}

/// The DoublePulsar implant: what the infected srv.sys answers to the ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Implant {
    /// Bytes 0-3 of the reply's SecuritySignature (key material).
    pub signature_key: [u8; 4],
    /// Byte 4 of the SecuritySignature: 0 = x86, 1 = x64.
    pub arch: u8,
}

/// SMB1 server parameters ([MS-CIFS] 2.2.4.52.2, [MS-SMB] 2.2.4.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1Persona {
    /// SMB header Flags of every response.
    pub flags: u8,
    /// SecurityMode (0x03 user-level + challenge/response; 0x0f adds signing enabled+required).
    pub security_mode: u8,
    /// MaxMpxCount.
    pub max_mpx_count: u16,
    /// MaxBufferSize.
    pub max_buffer_size: u32,
    /// Capabilities, including CAP_EXTENDED_SECURITY (0x80000000).
    pub capabilities: u32,
    /// ServerTimeZone, minutes from UTC.
    pub time_zone: i16,
    /// Whether the extended-security negotiate response carries a SPNEGO negTokenInit after the
    /// GUID (Windows Vista and later) or the GUID alone (XP).
    pub negotiate_spnego: bool,
    /// NativeOS of the SESSION_SETUP_ANDX response.
    pub native_os: &'static str,
    /// NativeLanMan of the SESSION_SETUP_ANDX response.
    pub native_lanman: &'static str,
    /// Answer the whole session with DOS errors (Flags2 without NT_STATUS): TREE_CONNECT gets
    /// ERRSRV/ERRerror, like the XP host in the python-checker capture.
    pub dos_errors: bool,
}

/// SMB2 server parameters ([MS-SMB2] 2.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb2Persona {
    /// Dialects the server implements, ascending.
    pub dialects: &'static [Smb2Dialect],
    /// SecurityMode (0x01 signing enabled, 0x02 signing required).
    pub security_mode: u16,
    /// Capabilities for dialects below 3.x.
    pub capabilities: u32,
    /// Capabilities when 3.x is negotiated.
    pub capabilities_3x: u32,
    /// MaxTransactSize, MaxReadSize and MaxWriteSize.
    pub max_size: u32,
}

/// The NTLMSSP identity in the CHALLENGE message ([MS-NLMP] 2.2.1.2, 2.2.2.1, 2.2.2.10).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NtlmIdentity {
    /// MsvAvNbComputerName.
    pub netbios_computer: &'static str,
    /// MsvAvNbDomainName (the workgroup or domain), also TargetName.
    pub netbios_domain: &'static str,
    /// MsvAvDnsComputerName.
    pub dns_computer: &'static str,
    /// MsvAvDnsDomainName.
    pub dns_domain: &'static str,
    /// MsvAvDnsTreeName (forest), domain members only.
    pub dns_tree: Option<&'static str>,
    /// Version: major, minor, build.
    pub version: (u8, u8, u16),
    /// NegotiateFlags of the CHALLENGE.
    pub flags: u32,
    /// Whether the target info carries MsvAvTimestamp (Vista and later; XP does not).
    pub timestamp: bool,
}

/// One simulated host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Persona {
    /// Name; doubles as the demo host name.
    pub name: &'static str,
    /// What the host plays, in one line.
    pub description: &'static str,
    /// What a correct scan reports for it.
    pub expected: &'static str,
    /// SMB1 behaviour; `None` = SMB1 disabled: an SMB1-only NEGOTIATE is answered with a TCP RST.
    pub smb1: Option<Smb1Persona>,
    /// SMB2 behaviour; `None` = no SMB2 at all (XP): an SMB2 message closes the connection.
    pub smb2: Option<Smb2Persona>,
    /// NTLMSSP identity.
    pub ntlm: NtlmIdentity,
    /// Status for an anonymous SESSION_SETUP (SMB1 and SMB2), `None` = accepted.
    pub anonymous_refused: Option<NtStatus>,
    /// Answer to the MS17-010 PeekNamedPipe on FID 0.
    pub peek: PeekBehaviour,
    /// DoublePulsar implant, if infected.
    pub implant: Option<Implant>,
}

// Shared building blocks, each from the captures named.

/// Windows 7 SP1 SMB1 (win7-*-sp1-*.pcap): Flags 0x98, SM 0x03, Mpx 50, Buf 4356, Caps 0x8001e3fc.
const WIN7_SMB1: Smb1Persona = Smb1Persona {
    flags: 0x98,
    security_mode: 0x03,
    max_mpx_count: 50,
    max_buffer_size: 4356,
    capabilities: 0x8001_e3fc,
    time_zone: 0,
    negotiate_spnego: true,
    native_os: "Windows 7 Professional 7601 Service Pack 1",
    native_lanman: "Windows 7 Professional 6.1",
    dos_errors: false,
};

/// Windows 7 SMB2 (win7-homebasic-sp1-nmap-smb1-and-smb2-negotiate.pcap): up to 2.1, SM 0x01,
/// Caps 0x07, sizes 1 MiB.
const WIN7_SMB2: Smb2Persona = Smb2Persona {
    dialects: &[Smb2Dialect::SMB2_0_2, Smb2Dialect::SMB2_1],
    security_mode: 0x01,
    capabilities: 0x07,
    capabilities_3x: 0x07,
    max_size: 1_048_576,
};

/// Windows 7 NTLMSSP (win7-homebasic-sp1-unpatched-ms17-010-check-msf.pcap): flags 0xa28a0205,
/// version 6.1.7601, workgroup host: domain name = computer name.
const WIN7_NTLM: NtlmIdentity = NtlmIdentity {
    netbios_computer: "WIN7-SP1-X64",
    netbios_domain: "WIN7-SP1-X64",
    dns_computer: "win7-sp1-x64",
    dns_domain: "win7-sp1-x64",
    dns_tree: None,
    version: (6, 1, 7601),
    flags: 0xa28a_0205,
    timestamp: true,
};

/// Windows 10 / Server 2019 SMB2 (win2019-17763-smb2-negotiate-multiprotocol-then-311.pcap,
/// win10-19041-smb2-negotiate-311.pcap): up to 3.1.1, SM 0x01, Caps 0x07 / 0x2f, sizes 8 MiB.
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

/// Windows 10 SMB1 when still on (win10-pro-19045-smb1-negotiate-session-setup.pcap).
const WIN10_SMB1: Smb1Persona = Smb1Persona {
    flags: 0x98,
    security_mode: 0x03,
    max_mpx_count: 50,
    max_buffer_size: 4356,
    capabilities: 0x8001_e3fc,
    time_zone: 0,
    negotiate_spnego: true,
    native_os: "Windows 10 Pro 19045",
    native_lanman: "Windows 10 Pro 6.3",
    dos_errors: false,
};

/// Windows 10/2019 NTLMSSP flags (win2019-17763-...: 0xe2898215 for a domain member).
const WIN10_NTLM_FLAGS: u32 = 0xe289_8215;

/// XP SMB1 (winxp-smb1-negotiate-session-setup-extsec.pcap, winxp-sp3-*-msf.pcap): Flags 0x88,
/// SM 0x03, Mpx 10, Buf 4356, Caps 0x8000e3fd, no SPNEGO blob in the negotiate response.
const XP_SMB1: Smb1Persona = Smb1Persona {
    flags: 0x88,
    security_mode: 0x03,
    max_mpx_count: 10,
    max_buffer_size: 4356,
    capabilities: 0x8000_e3fd,
    time_zone: 0,
    negotiate_spnego: false,
    native_os: "Windows 5.1",
    native_lanman: "Windows 2000 LAN Manager",
    dos_errors: false,
};

/// XP NTLMSSP: version 5.1.2600, flags 0x628a0205 (winxp-smb1-negotiate-session-setup-extsec.pcap),
/// no timestamp.
const XP_NTLM: NtlmIdentity = NtlmIdentity {
    netbios_computer: "WINXP-SP3",
    netbios_domain: "WINXP-SP3",
    dns_computer: "winxp-sp3",
    dns_domain: "winxp-sp3",
    dns_tree: None,
    version: (5, 1, 2600),
    flags: 0x628a_0205,
    timestamp: false,
};

static PERSONAS: [Persona; 10] = [
    Persona {
        name: "win7-sp1-x64-unpatched",
        description: "Windows 7 Professional SP1 x64 without MS17-010 (KB4012212/KB4012215)",
        expected: "smb1 on, ms17_010 vulnerable (0xC0000205), doublepulsar absent, Windows 7 SP1",
        smb1: Some(WIN7_SMB1),
        smb2: Some(WIN7_SMB2),
        ntlm: WIN7_NTLM,
        anonymous_refused: None,
        peek: PeekBehaviour::Status(NtStatus::INSUFF_SERVER_RESOURCES),
        implant: None,
    },
    Persona {
        name: "win7-sp1-x64-doublepulsar",
        description: "the same Windows 7 SP1 x64, infected with the DoublePulsar implant",
        expected: "ms17_010 vulnerable, doublepulsar present (reply MID 81), arch x64",
        smb1: Some(WIN7_SMB1),
        smb2: Some(WIN7_SMB2),
        ntlm: NtlmIdentity {
            netbios_computer: "WARD3-PC07",
            netbios_domain: "WARD3-PC07",
            dns_computer: "ward3-pc07",
            dns_domain: "ward3-pc07",
            ..WIN7_NTLM
        },
        anonymous_refused: None,
        peek: PeekBehaviour::Status(NtStatus::INSUFF_SERVER_RESOURCES),
        // Key bytes chosen for the simulation (not a captured key).
        implant: Some(Implant {
            signature_key: [0x5a, 0x3c, 0x9e, 0x71],
            arch: 1,
        }),
    },
    Persona {
        name: "winxp-sp3-doublepulsar",
        description: "Windows XP SP3 (x86, out of support), unpatched and infected with DoublePulsar",
        expected: "ms17_010 vulnerable, doublepulsar present, arch x86, no SMB2",
        smb1: Some(XP_SMB1),
        smb2: None,
        ntlm: XP_NTLM,
        anonymous_refused: None,
        peek: PeekBehaviour::Status(NtStatus::INSUFF_SERVER_RESOURCES),
        implant: Some(Implant {
            signature_key: [0x2d, 0x81, 0x4f, 0xc6],
            arch: 0,
        }),
    },
    Persona {
        name: "win10-patched-smb1-on",
        description: "Windows 10 Pro 22H2, patched, SMB1 feature still installed",
        expected: "smb1 on, ms17_010 not-vulnerable (0xC0000022), SMB2 up to 3.1.1",
        smb1: Some(WIN10_SMB1),
        smb2: Some(WIN10_SMB2),
        ntlm: NtlmIdentity {
            netbios_computer: "RADIOLOGY-WS2",
            netbios_domain: "RADIOLOGY-WS2",
            dns_computer: "radiology-ws2",
            dns_domain: "radiology-ws2",
            dns_tree: None,
            version: (10, 0, 19045),
            flags: 0xe28a_0215,
            timestamp: true,
        },
        anonymous_refused: None,
        peek: PeekBehaviour::Status(NtStatus::ACCESS_DENIED),
        implant: None,
    },
    Persona {
        name: "win2008r2-patched",
        description: "Windows Server 2008 R2 SP1, patched, signing required (a domain server)",
        expected: "smb1 on, signing required, ms17_010 not-vulnerable (0xC0000008), SMB2 up to 2.1",
        // win2008r2-std-sp1-smb1-negotiate-session-setup-extsec.pcap: SM 0x0f, Buf 16644,
        // Caps 0x8001f3fc.
        smb1: Some(Smb1Persona {
            security_mode: 0x0f,
            max_buffer_size: 16644,
            capabilities: 0x8001_f3fc,
            native_os: "Windows Server 2008 R2 Standard 7601 Service Pack 1",
            native_lanman: "Windows Server 2008 R2 Standard 6.1",
            ..WIN7_SMB1
        }),
        smb2: Some(Smb2Persona {
            security_mode: 0x03,
            ..WIN7_SMB2
        }),
        ntlm: NtlmIdentity {
            netbios_computer: "PACS-SRV01",
            netbios_domain: "HOSPITAL",
            dns_computer: "pacs-srv01.hospital.local",
            dns_domain: "hospital.local",
            dns_tree: Some("hospital.local"),
            version: (6, 1, 7601),
            flags: 0xe289_8215,
            timestamp: true,
        },
        anonymous_refused: None,
        peek: PeekBehaviour::Status(NtStatus::INVALID_HANDLE),
        implant: None,
    },
    Persona {
        name: "win2012r2-anon-refused",
        description: "Windows Server 2012 R2 that refuses anonymous logon (ACCESS_DENIED at SESSION_SETUP)",
        expected: "ms17_010 unknown, reason session-setup-refused (the test never ran); OS from NTLM 6.3.9600",
        // win2012r2-*-wannacry.pcap: SM 0x0f, Buf 16644, Caps 0x8001f3fc; anonymous setup refused
        // with 0xC0000022.
        smb1: Some(Smb1Persona {
            security_mode: 0x0f,
            max_buffer_size: 16644,
            capabilities: 0x8001_f3fc,
            native_os: "Windows Server 2012 R2 Standard 9600",
            native_lanman: "Windows Server 2012 R2 Standard 6.3",
            ..WIN7_SMB1
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
            netbios_computer: "LAB-SRV02",
            netbios_domain: "HOSPITAL",
            dns_computer: "lab-srv02.hospital.local",
            dns_domain: "hospital.local",
            dns_tree: Some("hospital.local"),
            version: (6, 3, 9600),
            flags: WIN10_NTLM_FLAGS,
            timestamp: true,
        },
        anonymous_refused: Some(NtStatus::ACCESS_DENIED),
        peek: PeekBehaviour::Status(NtStatus::INVALID_HANDLE),
        implant: None,
    },
    Persona {
        name: "winxp-dos-errors",
        description: "Windows XP SP3 answering with DOS-style errors (Flags2 without NT_STATUS)",
        expected: "ms17_010 unknown, reason dos-error / tree-connect-refused (ERRSRV/ERRerror), never a verdict",
        // winxp-sp3-dos-error-tree-connect-and-trans-python-checker.pcap: TREE_CONNECT -> ERRSRV
        // 0x0001, TRANS -> ERRSRV 0x0005 (ERRinvtid).
        smb1: Some(Smb1Persona {
            dos_errors: true,
            ..XP_SMB1
        }),
        smb2: None,
        ntlm: NtlmIdentity {
            netbios_computer: "NURSE-STATION",
            netbios_domain: "NURSE-STATION",
            dns_computer: "nurse-station",
            dns_domain: "nurse-station",
            ..XP_NTLM
        },
        anonymous_refused: None,
        peek: PeekBehaviour::Dos(0x02, 0x0005),
        implant: None,
    },
    Persona {
        name: "win10-smb1-off",
        description: "Windows 10 Pro 22H2 with SMB1 removed (the default since 1709)",
        expected: "smb1 off (RST after SMB1-only NEGOTIATE), ms17_010 not-exposed, SMB2 up to 3.1.1, OS 10.0.19045",
        smb1: None,
        smb2: Some(WIN10_SMB2),
        ntlm: NtlmIdentity {
            netbios_computer: "ICU-WS14",
            netbios_domain: "HOSPITAL",
            dns_computer: "icu-ws14.hospital.local",
            dns_domain: "hospital.local",
            dns_tree: Some("hospital.local"),
            version: (10, 0, 19045),
            flags: WIN10_NTLM_FLAGS,
            timestamp: true,
        },
        anonymous_refused: None,
        peek: PeekBehaviour::Status(NtStatus::ACCESS_DENIED),
        implant: None,
    },
    Persona {
        name: "win2019-smb1-off",
        description: "Windows Server 2019 with SMB1 off, signing required (a domain controller)",
        expected: "smb1 off, ms17_010 not-exposed, SMB2 up to 3.1.1 signing required, OS 10.0.17763",
        smb1: None,
        smb2: Some(Smb2Persona {
            security_mode: 0x03,
            ..WIN10_SMB2
        }),
        ntlm: NtlmIdentity {
            netbios_computer: "DC01",
            netbios_domain: "HOSPITAL",
            dns_computer: "dc01.hospital.local",
            dns_domain: "hospital.local",
            dns_tree: Some("hospital.local"),
            version: (10, 0, 17763),
            flags: WIN10_NTLM_FLAGS,
            timestamp: true,
        },
        anonymous_refused: None,
        peek: PeekBehaviour::Status(NtStatus::ACCESS_DENIED),
        implant: None,
    },
    Persona {
        name: "win7-silent-after-peek",
        description: "Windows 7 SP1 that never answers the PeekNamedPipe (win7-ultimate-sp1-ms17-010-peek-unanswered-msf.pcap)",
        expected: "ms17_010 unknown, reason timeout-after-peek; DoublePulsar absent (ping on a fresh connection)",
        smb1: Some(Smb1Persona {
            native_os: "Windows 7 Ultimate 7601 Service Pack 1",
            native_lanman: "Windows 7 Ultimate 6.1",
            ..WIN7_SMB1
        }),
        smb2: Some(WIN7_SMB2),
        ntlm: NtlmIdentity {
            netbios_computer: "MRI-CONSOLE",
            netbios_domain: "MRI-CONSOLE",
            dns_computer: "mri-console",
            dns_domain: "mri-console",
            ..WIN7_NTLM
        },
        anonymous_refused: None,
        peek: PeekBehaviour::Silent,
        implant: None,
    },
];

/// Every persona, in demo order.
pub fn personas() -> &'static [Persona] {
    &PERSONAS
}

/// A GUID stable per persona (a hash of its name), like a real server's ServerGuid.
pub fn server_guid(name: &str) -> [u8; 16] {
    let mut g = [0u8; 16];
    for (i, chunk) in g.chunks_mut(8).enumerate() {
        let mut h = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&(name, i), &mut h);
        chunk.copy_from_slice(&std::hash::Hasher::finish(&h).to_le_bytes());
    }
    g
}
