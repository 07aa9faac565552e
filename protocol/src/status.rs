//! Status codes: NT status values ([MS-ERREF] 2.3, as used by [MS-CIFS] 2.2.2.4 and [MS-SMB2]
//! 2.2.1) and SMB1 DOS-style errors ([MS-CIFS] 2.2.2.4, error classes and codes).
//!
//! An SMB1 header's status field means an NT status only when Flags2 carries
//! `SMB_FLAGS2_NT_STATUS`; otherwise byte 0 is an error class and bytes 2-3 an error code. The two
//! are kept apart in [`SmbError`] so a DOS error is never mistaken for an NT status.

use std::fmt;

/// A 32-bit NT status code ([MS-ERREF] 2.3). Unknown values are kept, not rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NtStatus(pub u32);

macro_rules! nt_statuses {
    ($($name:ident = $val:expr, $text:expr;)*) => {
        impl NtStatus {
            $(#[doc = concat!("`", $text, "` (", stringify!($val), ")")]
            pub const $name: NtStatus = NtStatus($val);)*

            /// The symbolic name, e.g. `STATUS_ACCESS_DENIED`, or `None` for a code not listed here.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($val => Some($text),)*
                    _ => None,
                }
            }
        }
    };
}

nt_statuses! {
    SUCCESS = 0x0000_0000, "STATUS_SUCCESS";
    BUFFER_OVERFLOW = 0x8000_0005, "STATUS_BUFFER_OVERFLOW";
    UNSUCCESSFUL = 0xC000_0001, "STATUS_UNSUCCESSFUL";
    NOT_IMPLEMENTED = 0xC000_0002, "STATUS_NOT_IMPLEMENTED";
    INVALID_HANDLE = 0xC000_0008, "STATUS_INVALID_HANDLE";
    INVALID_PARAMETER = 0xC000_000D, "STATUS_INVALID_PARAMETER";
    MORE_PROCESSING_REQUIRED = 0xC000_0016, "STATUS_MORE_PROCESSING_REQUIRED";
    ACCESS_DENIED = 0xC000_0022, "STATUS_ACCESS_DENIED";
    OBJECT_NAME_NOT_FOUND = 0xC000_0034, "STATUS_OBJECT_NAME_NOT_FOUND";
    LOGON_FAILURE = 0xC000_006D, "STATUS_LOGON_FAILURE";
    ACCOUNT_RESTRICTION = 0xC000_006E, "STATUS_ACCOUNT_RESTRICTION";
    PASSWORD_EXPIRED = 0xC000_0071, "STATUS_PASSWORD_EXPIRED";
    ACCOUNT_DISABLED = 0xC000_0072, "STATUS_ACCOUNT_DISABLED";
    INSUFFICIENT_RESOURCES = 0xC000_009A, "STATUS_INSUFFICIENT_RESOURCES";
    PIPE_NOT_AVAILABLE = 0xC000_00AC, "STATUS_PIPE_NOT_AVAILABLE";
    NOT_SUPPORTED = 0xC000_00BB, "STATUS_NOT_SUPPORTED";
    BAD_NETWORK_NAME = 0xC000_00CC, "STATUS_BAD_NETWORK_NAME";
    REQUEST_NOT_ACCEPTED = 0xC000_00D0, "STATUS_REQUEST_NOT_ACCEPTED";
    INSUFF_SERVER_RESOURCES = 0xC000_0205, "STATUS_INSUFF_SERVER_RESOURCES";
    USER_SESSION_DELETED = 0xC000_0203, "STATUS_USER_SESSION_DELETED";
    NETWORK_SESSION_EXPIRED = 0xC000_035C, "STATUS_NETWORK_SESSION_EXPIRED";
    INVALID_SMB = 0x0001_0002, "STATUS_INVALID_SMB";
    SMB_BAD_TID = 0x0005_0002, "STATUS_SMB_BAD_TID";
    SMB_BAD_COMMAND = 0x0016_0002, "STATUS_SMB_BAD_COMMAND";
    SMB_BAD_UID = 0x005B_0002, "STATUS_SMB_BAD_UID";
}

impl NtStatus {
    /// True for success and informational codes (severity bits 00 or 01).
    pub fn is_success(self) -> bool {
        self.0 >> 30 <= 1
    }
}

impl fmt::Display for NtStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "0x{:08X} {n}", self.0),
            None => write!(f, "0x{:08X}", self.0),
        }
    }
}

/// An SMB1 DOS-style error: error class and code ([MS-CIFS] 2.2.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DosError {
    /// Error class: 0x01 ERRDOS, 0x02 ERRSRV, 0x03 ERRHRD, 0xFF ERRCMD.
    pub class: u8,
    /// Error code within the class.
    pub code: u16,
}

impl DosError {
    /// ERRDOS class.
    pub const CLASS_ERRDOS: u8 = 0x01;
    /// ERRSRV class.
    pub const CLASS_ERRSRV: u8 = 0x02;
    /// ERRHRD class.
    pub const CLASS_ERRHRD: u8 = 0x03;

    /// True when class and code are both zero (success).
    pub fn is_success(self) -> bool {
        self.class == 0 && self.code == 0
    }

    /// A readable name such as `ERRSRV/ERRbaduid`, or `None` when unknown.
    pub fn name(self) -> Option<&'static str> {
        Some(match (self.class, self.code) {
            (0x01, 0x0001) => "ERRDOS/ERRbadfunc",
            (0x01, 0x0002) => "ERRDOS/ERRbadfile",
            (0x01, 0x0005) => "ERRDOS/ERRnoaccess",
            (0x01, 0x0006) => "ERRDOS/ERRbadfid",
            (0x01, 0x0032) => "ERRDOS/ERRunsup",
            (0x02, 0x0001) => "ERRSRV/ERRerror",
            (0x02, 0x0002) => "ERRSRV/ERRbadpw",
            (0x02, 0x0004) => "ERRSRV/ERRaccess",
            (0x02, 0x0005) => "ERRSRV/ERRinvtid",
            (0x02, 0x0006) => "ERRSRV/ERRinvnetname",
            (0x02, 0x0016) => "ERRSRV/ERRbadcmd",
            (0x02, 0x005B) => "ERRSRV/ERRbaduid",
            (0x02, 0xFFFF) => "ERRSRV/ERRnosupport",
            _ => return None,
        })
    }
}

impl fmt::Display for DosError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DOS 0x{:02X}/0x{:04X}", self.class, self.code)?;
        if let Some(n) = self.name() {
            write!(f, " {n}")?;
        }
        Ok(())
    }
}

/// The status of an SMB1 response: NT style or DOS style, as its Flags2 says.
/// Spec: [MS-CIFS] 2.2.3.1 (Status), [MS-ERREF] 2.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmbError {
    /// Flags2 had `SMB_FLAGS2_NT_STATUS`.
    Nt(NtStatus),
    /// Flags2 did not: class/code.
    Dos(DosError),
}

impl SmbError {
    /// True for success in either style.
    pub fn is_success(self) -> bool {
        match self {
            SmbError::Nt(s) => s.is_success(),
            SmbError::Dos(d) => d.is_success(),
        }
    }

    /// The NT status, if this is one.
    pub fn nt(self) -> Option<NtStatus> {
        match self {
            SmbError::Nt(s) => Some(s),
            SmbError::Dos(_) => None,
        }
    }

    /// A compact hex form for reports: `0xC0000205` or `DOS:0x02/0x005B`.
    pub fn hex(self) -> String {
        match self {
            SmbError::Nt(s) => format!("0x{:08X}", s.0),
            SmbError::Dos(d) => format!("DOS:0x{:02X}/0x{:04X}", d.class, d.code),
        }
    }
}

impl fmt::Display for SmbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmbError::Nt(s) => s.fmt(f),
            SmbError::Dos(d) => d.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_display() {
        assert_eq!(
            NtStatus::INSUFF_SERVER_RESOURCES.name(),
            Some("STATUS_INSUFF_SERVER_RESOURCES")
        );
        assert_eq!(
            NtStatus(0xC000_0205).to_string(),
            "0xC0000205 STATUS_INSUFF_SERVER_RESOURCES"
        );
        assert_eq!(NtStatus(0xC0DE_0001).name(), None);
        assert!(!NtStatus::MORE_PROCESSING_REQUIRED.is_success());
        assert!(NtStatus::SUCCESS.is_success());
        let d = DosError {
            class: 2,
            code: 0x5b,
        };
        assert_eq!(d.to_string(), "DOS 0x02/0x005B ERRSRV/ERRbaduid");
        assert_eq!(SmbError::Dos(d).hex(), "DOS:0x02/0x005B");
    }
}
