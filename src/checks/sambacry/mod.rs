//! SambaCry (CVE-2017-7494): the Samba version from the SMB1 NativeLanMan string against the
//! affected range.

pub mod rules;
