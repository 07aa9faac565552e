//! SMB_COM_TRANSACTION (0x25) ([MS-CIFS] 2.2.4.33): the MS17-010 probe — TRANS_PEEK_NMPIPE on
//! FID 0 — and the TRANS response, whose status is the verdict.

use bytes::{BufMut, Bytes, BytesMut};
use nom::bytes::complete::take;
use nom::number::complete::{le_u16, le_u8};
use nom::{IResult, Parser};

use crate::error::{ParseError, Result};
use crate::smb1::header::{
    build_smb1_message, flags2, parse_smb1_body, parse_smb1_header, smb1_bytes_offset, Smb1Command,
    Smb1Header, Smb1Ids, CLIENT_FLAGS,
};
use crate::util::{run, slice_at};

/// A SMB_COM_TRANSACTION subcommand, the first Setup word of a named-pipe transaction
/// ([MS-CIFS] 2.2.5). A newtype so unknown subcommands are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TransSubcommand(pub u16);

impl TransSubcommand {
    /// TRANS_SET_NMPIPE_STATE ([MS-CIFS] 2.2.5.1).
    pub const SET_NMPIPE_STATE: TransSubcommand = TransSubcommand(0x0001);
    /// TRANS_RAW_READ_NMPIPE ([MS-CIFS] 2.2.5.2).
    pub const RAW_READ_NMPIPE: TransSubcommand = TransSubcommand(0x0011);
    /// TRANS_QUERY_NMPIPE_STATE ([MS-CIFS] 2.2.5.3).
    pub const QUERY_NMPIPE_STATE: TransSubcommand = TransSubcommand(0x0021);
    /// TRANS_QUERY_NMPIPE_INFO ([MS-CIFS] 2.2.5.4).
    pub const QUERY_NMPIPE_INFO: TransSubcommand = TransSubcommand(0x0022);
    /// TRANS_PEEK_NMPIPE ([MS-CIFS] 2.2.5.5): the MS17-010 probe.
    pub const PEEK_NMPIPE: TransSubcommand = TransSubcommand(0x0023);
    /// TRANS_TRANSACT_NMPIPE ([MS-CIFS] 2.2.5.6).
    pub const TRANSACT_NMPIPE: TransSubcommand = TransSubcommand(0x0026);
    /// TRANS_RAW_WRITE_NMPIPE ([MS-CIFS] 2.2.5.7).
    pub const RAW_WRITE_NMPIPE: TransSubcommand = TransSubcommand(0x0031);
    /// TRANS_READ_NMPIPE ([MS-CIFS] 2.2.5.8).
    pub const READ_NMPIPE: TransSubcommand = TransSubcommand(0x0036);
    /// TRANS_WRITE_NMPIPE ([MS-CIFS] 2.2.5.9).
    pub const WRITE_NMPIPE: TransSubcommand = TransSubcommand(0x0037);
    /// TRANS_WAIT_NMPIPE ([MS-CIFS] 2.2.5.10).
    pub const WAIT_NMPIPE: TransSubcommand = TransSubcommand(0x0053);
    /// TRANS_CALL_NMPIPE ([MS-CIFS] 2.2.5.11).
    pub const CALL_NMPIPE: TransSubcommand = TransSubcommand(0x0054);
}

/// Flags2 of the PeekNamedPipe request: NT_STATUS | LONG_NAMES (0x4001). No UNICODE bit, because
/// the transaction name `\PIPE\` is sent in OEM (ByteCount 7) exactly as nmap and Metasploit do;
/// NT_STATUS so the server answers with the NT status the verdict is read from.
/// Spec: [MS-CIFS] 2.2.3.1 (Flags2).
pub const PEEK_FLAGS2: u16 = flags2::NT_STATUS | flags2::LONG_NAMES;

/// The variable fields of a SMB_COM_TRANSACTION or SMB_COM_TRANSACTION2 request; both share one
/// layout ([MS-CIFS] 2.2.4.33.1, 2.2.4.46.1), built by [`build_smb1_trans_request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1TransRequest<'a> {
    /// MaxParameterCount.
    pub max_parameter_count: u16,
    /// MaxDataCount.
    pub max_data_count: u16,
    /// MaxSetupCount.
    pub max_setup_count: u8,
    /// Flags (DISCONNECT_TID 0x0001, NO_RESPONSE 0x0002).
    pub flags: u16,
    /// Timeout, in milliseconds.
    pub timeout: u32,
    /// Setup words (the subcommand first); SetupCount is their number.
    pub setup: &'a [u16],
    /// Name, as sent (OEM or Unicode, terminator included): `\PIPE\` + NUL for a named-pipe TRANS,
    /// a single 0x00 for TRANS2, whose Name is unused.
    pub name: &'a [u8],
    /// Trans_Parameters (all of them: smb1scan never sends secondary requests).
    pub parameters: &'a [u8],
    /// Trans_Data.
    pub data: &'a [u8],
}

/// Builds a TRANS (`command` [`Smb1Command::TRANSACTION`]) or TRANS2
/// ([`Smb1Command::TRANSACTION2`]) request ([MS-CIFS] 2.2.4.33.1, 2.2.4.46.1) in one message:
/// TotalParameterCount = ParameterCount and TotalDataCount = DataCount. Name follows ByteCount;
/// Trans_Parameters and Trans_Data each start at the next even offset from the header start
/// (one zero pad byte when needed), and ParameterOffset/DataOffset point there even when empty.
/// Counts beyond 65535 bytes cannot be sent and are cut to 16 bits; smb1scan sends a few bytes.
pub fn build_smb1_trans_request(
    command: Smb1Command,
    flags2: u16,
    ids: Smb1Ids,
    t: &Smb1TransRequest<'_>,
) -> Bytes {
    let setup_count = t.setup.len().min(usize::from(u8::MAX));
    let words_len = 2 * (14 + setup_count);
    let bytes_offset = smb1_bytes_offset(words_len);
    let mut bytes = BytesMut::from(t.name);
    let pad_to_even = |bytes: &mut BytesMut| {
        if (bytes_offset + bytes.len()) % 2 == 1 {
            bytes.put_u8(0); // Pad1 / Pad2
        }
        bytes_offset + bytes.len()
    };
    let parameter_offset = pad_to_even(&mut bytes);
    bytes.put_slice(t.parameters);
    let data_offset = pad_to_even(&mut bytes);
    bytes.put_slice(t.data);

    let mut words = BytesMut::with_capacity(words_len);
    words.put_u16_le(t.parameters.len() as u16); // TotalParameterCount
    words.put_u16_le(t.data.len() as u16); // TotalDataCount
    words.put_u16_le(t.max_parameter_count);
    words.put_u16_le(t.max_data_count);
    words.put_u8(t.max_setup_count);
    words.put_u8(0); // Reserved1
    words.put_u16_le(t.flags);
    words.put_u32_le(t.timeout);
    words.put_u16_le(0); // Reserved2
    words.put_u16_le(t.parameters.len() as u16); // ParameterCount
    words.put_u16_le(parameter_offset as u16);
    words.put_u16_le(t.data.len() as u16); // DataCount
    words.put_u16_le(data_offset as u16);
    words.put_u8(setup_count as u8);
    words.put_u8(0); // Reserved3
    for w in t.setup.iter().take(setup_count) {
        words.put_u16_le(*w);
    }
    let header = Smb1Header::with_ids(command, CLIENT_FLAGS, flags2, ids);
    build_smb1_message(&header, &words, &bytes)
}

/// Builds the MS17-010 probe exactly as nmap's smb-vuln-ms17-010 and Metasploit's
/// smb_ms17_010 send it ([MS-CIFS] 2.2.4.33.1, 2.2.5.5): WordCount 16, TotalParameterCount 0,
/// TotalDataCount 0, MaxParameterCount 0xFFFF, MaxDataCount 0xFFFF, MaxSetupCount 0, Flags 0,
/// Timeout 0, ParameterCount 0, ParameterOffset 0x4A, DataCount 0, DataOffset 0x4A, SetupCount 2,
/// Setup [TRANS_PEEK_NMPIPE, FID 0], ByteCount 7, Name `\PIPE\` + NUL. `ids` must carry the UID
/// from SESSION_SETUP and the TID of IPC$.
///
/// An unpatched srv.sys answers STATUS_INSUFF_SERVER_RESOURCES (0xC0000205). Returns the bare
/// SMB message (74 bytes: ParameterOffset 0x4A points just past it). Checked with tshark 4.x:
/// decoded as "Trans Request, \PIPE\" with PEEK_NMPIPE, nothing malformed.
pub fn build_smb1_peek_named_pipe_fid0(ids: Smb1Ids) -> Bytes {
    let request = Smb1TransRequest {
        max_parameter_count: 0xFFFF,
        max_data_count: 0xFFFF,
        max_setup_count: 0,
        flags: 0,
        timeout: 0,
        setup: &[TransSubcommand::PEEK_NMPIPE.0, 0], // subcommand, FID 0
        name: b"\\PIPE\\\0",
        parameters: &[],
        data: &[],
    };
    build_smb1_trans_request(Smb1Command::TRANSACTION, PEEK_FLAGS2, ids, &request)
}

/// A TRANS response ([MS-CIFS] 2.2.4.33.2). Errors (including the MS17-010 answers
/// 0xC0000205 / 0xC0000022 / 0xC0000008) come as WordCount 0, ByteCount 0 (35 bytes on real
/// Windows); success as WordCount 10 + SetupCount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Smb1TransResponse<'a> {
    /// WordCount as received.
    pub word_count: u8,
    /// TotalParameterCount (0 in the error form).
    pub total_parameter_count: u16,
    /// TotalDataCount (0 in the error form).
    pub total_data_count: u16,
    /// Setup words, raw little-endian (SetupCount × 2 bytes).
    pub setup: &'a [u8],
    /// Trans_Parameters of this response, located by ParameterOffset/ParameterCount.
    pub parameters: &'a [u8],
    /// Trans_Data of this response, located by DataOffset/DataCount.
    pub data: &'a [u8],
}

/// The parameter words of a TRANS response ([MS-CIFS] 2.2.4.33.2 table order).
struct TransResponseWords<'a> {
    total_parameter_count: u16,
    total_data_count: u16,
    parameter_count: u16,
    parameter_offset: u16,
    data_count: u16,
    data_offset: u16,
    setup_count: u8,
    setup: &'a [u8],
}

fn trans_response_words(i: &[u8]) -> IResult<&[u8], TransResponseWords<'_>> {
    let (i, total_parameter_count) = le_u16.parse(i)?;
    let (i, total_data_count) = le_u16.parse(i)?;
    let (i, _reserved1) = le_u16.parse(i)?;
    let (i, parameter_count) = le_u16.parse(i)?;
    let (i, parameter_offset) = le_u16.parse(i)?;
    let (i, _parameter_displacement) = le_u16.parse(i)?;
    let (i, data_count) = le_u16.parse(i)?;
    let (i, data_offset) = le_u16.parse(i)?;
    let (i, _data_displacement) = le_u16.parse(i)?;
    let (i, setup_count) = le_u8.parse(i)?;
    let (i, _reserved2) = le_u8.parse(i)?;
    let (i, setup) = take(usize::from(setup_count) * 2).parse(i)?;
    Ok((
        i,
        TransResponseWords {
            total_parameter_count,
            total_data_count,
            parameter_count,
            parameter_offset,
            data_count,
            data_offset,
            setup_count,
            setup,
        },
    ))
}

/// Parses a TRANS response (the NBSS payload, from `\xFFSMB`). The verdict comes from
/// [`Smb1Header::status`] of the returned header; the body is checked for consistency: parameter
/// and data offsets (relative to the header start) must fall inside the message.
/// Spec: [MS-CIFS] 2.2.4.33.2.
pub fn parse_smb1_trans_response(i: &[u8]) -> Result<(Smb1Header, Smb1TransResponse<'_>)> {
    const WHAT: &str = "TRANS response";
    let (h, rest) = parse_smb1_header(i)?;
    if h.command != Smb1Command::TRANSACTION {
        return Err(ParseError::invalid(
            WHAT,
            format!("command 0x{:02X}", h.command.0),
        ));
    }
    let body = parse_smb1_body(rest)?;
    let mut r = Smb1TransResponse {
        word_count: body.word_count,
        total_parameter_count: 0,
        total_data_count: 0,
        setup: &[],
        parameters: &[],
        data: &[],
    };
    if body.word_count == 0 {
        return Ok((h, r));
    }
    if body.word_count < 10 {
        return Err(ParseError::invalid(
            WHAT,
            format!("WordCount {} (expected 0 or >= 10)", body.word_count),
        ));
    }
    let (_, w) = run(WHAT, body.words, trans_response_words)?;
    let setup_count = usize::from(w.setup_count);
    if usize::from(body.word_count) != 10 + setup_count {
        return Err(ParseError::invalid(
            WHAT,
            format!(
                "WordCount {} does not match SetupCount {setup_count}",
                body.word_count
            ),
        ));
    }
    r.total_parameter_count = w.total_parameter_count;
    r.total_data_count = w.total_data_count;
    r.setup = w.setup;
    let parameter_count = usize::from(w.parameter_count);
    let parameter_offset = usize::from(w.parameter_offset);
    let data_count = usize::from(w.data_count);
    let data_offset = usize::from(w.data_offset);
    // Offsets count from the header start; `i` is the whole message and ByteCount bounds the end.
    let end = body.bytes_offset + body.bytes.len();
    let msg = i.get(..end).unwrap_or(i);
    if parameter_count > 0 {
        r.parameters = slice_at(
            "TRANS response parameters",
            msg,
            parameter_offset,
            parameter_count,
        )?;
    }
    if data_count > 0 {
        r.data = slice_at("TRANS response data", msg, data_offset, data_count)?;
    }
    Ok((h, r))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::smb1::header::write_smb1_body;
    use crate::smb1::trans2::Trans2Subcommand;
    use crate::status::{NtStatus, SmbError};
    use crate::test_util::hex;

    /// The shared builder puts Trans_Parameters and Trans_Data at even offsets from the header
    /// start, pads with one zero byte when needed, and its offset/count words point at them.
    #[test]
    fn trans_request_offsets_point_at_parameters_and_data() {
        let ids = Smb1Ids::default();
        for (setup, name) in [
            (
                &[TransSubcommand::TRANSACT_NMPIPE.0, 0x4000][..],
                &b"\\PIPE\\\0"[..],
            ),
            (&[Trans2Subcommand::SESSION_SETUP.0][..], &[0u8][..]),
            (&[][..], &b"ab\0"[..]),
        ] {
            let t = Smb1TransRequest {
                max_parameter_count: 10,
                max_data_count: 20,
                max_setup_count: 0,
                flags: 0,
                timeout: 0,
                setup,
                name,
                parameters: &[1, 2, 3],
                data: &[4, 5],
            };
            let m = build_smb1_trans_request(Smb1Command::TRANSACTION, PEEK_FLAGS2, ids, &t);
            let (_, rest) = parse_smb1_header(&m).expect("header");
            let body = parse_smb1_body(rest).expect("body");
            assert_eq!(usize::from(body.word_count), 14 + setup.len());
            let word =
                |k: usize| usize::from(u16::from_le_bytes([body.words[k], body.words[k + 1]]));
            let (pc, po, dc, d_o) = (word(18), word(20), word(22), word(24));
            assert_eq!((word(0), word(2), pc, dc), (3, 2, 3, 2), "total and counts");
            assert_eq!(po % 2, 0, "ParameterOffset {po} is even");
            assert_eq!(d_o % 2, 0, "DataOffset {d_o} is even");
            assert_eq!(&m[po..po + pc], &[1, 2, 3]);
            assert_eq!(&m[d_o..d_o + dc], &[4, 5]);
            assert_eq!(d_o + dc, m.len(), "data ends the message");
            assert_eq!(&body.bytes[..name.len()], name);
            assert_eq!(usize::from(body.words[26]), setup.len(), "SetupCount");
        }
    }

    #[test]
    fn peek_golden() {
        let ids = Smb1Ids {
            tid: 0x0800,
            pid: 0xFEFF,
            uid: 0x0800,
            mid: 4,
        };
        let m = build_smb1_peek_named_pipe_fid0(ids);
        assert_eq!(m.len(), 74);
        let want = concat!(
            "ff534d4225000000001801400000000000000000000000000008fffe00080400",
            "10",
            "00000000ffffffff0000000000000000000000004a0000004a0002002300 0000",
            "0700",
            "5c504950455c00"
        )
        .replace(' ', "");
        assert_eq!(hex(&m), want);
    }

    /// The vulnerable reply as real Windows 7 sends it
    /// (win7-enterprise-sp1-x64-unpatched-ms17-010-check-wannacry.pcap frame 8): 35 bytes,
    /// status 0xC0000205, Flags 0x98, Flags2 0x6801, TID = PID = UID = 0x0800, MID 24261,
    /// WordCount 0, ByteCount 0.
    #[test]
    fn vulnerable_reply_35_bytes() {
        let mut b = BytesMut::new();
        let mut h = Smb1Header::request(Smb1Command::TRANSACTION, 0x98, 0x6801);
        h.status_raw = 0xC000_0205;
        h.tid = 0x0800;
        h.pid_low = 0x0800;
        h.uid = 0x0800;
        h.mid = 24261;
        h.write(&mut b);
        write_smb1_body(&mut b, &[], &[]);
        assert_eq!(b.len(), 35);
        let (h, r) = parse_smb1_trans_response(&b).expect("parse");
        assert_eq!(h.status(), SmbError::Nt(NtStatus::INSUFF_SERVER_RESOURCES));
        assert_eq!(h.mid, 24261);
        assert_eq!(r.word_count, 0);
        assert!(r.parameters.is_empty() && r.data.is_empty());
    }

    #[test]
    fn success_form_wordcount10() {
        // WordCount 10, ParameterCount 2 at offset 56, DataCount 3 at offset 58.
        // Bytes start at 32 + 1 + 20 + 2 = 55: one pad byte, then params, then data.
        let mut words = vec![];
        for v in [2u16, 3, 0, 2, 56, 0, 3, 58, 0] {
            words.extend_from_slice(&v.to_le_bytes());
        }
        words.extend_from_slice(&[0, 0]); // SetupCount 0, Reserved2
        let mut b = BytesMut::new();
        Smb1Header::request(Smb1Command::TRANSACTION, 0x98, 0xC801).write(&mut b);
        write_smb1_body(&mut b, &words, &[0, 0xAA, 0xBB, 1, 2, 3]);
        let (_, r) = parse_smb1_trans_response(&b).expect("parse");
        assert_eq!(r.word_count, 10);
        assert_eq!(r.parameters, &[0xAA, 0xBB]);
        assert_eq!(r.data, &[1, 2, 3]);
        assert_eq!(r.total_data_count, 3);
    }

    #[test]
    fn hostile_offsets_and_counts() {
        let build = |vals: [u16; 9], setup_count: u8, wc_extra: usize| {
            let mut words = vec![];
            for v in vals {
                words.extend_from_slice(&v.to_le_bytes());
            }
            words.extend_from_slice(&[setup_count, 0]);
            words.extend(std::iter::repeat(0).take(wc_extra * 2));
            let mut b = BytesMut::new();
            Smb1Header::request(Smb1Command::TRANSACTION, 0x98, 0xC801).write(&mut b);
            write_smb1_body(&mut b, &words, &[0, 1, 2, 3]);
            b
        };
        // Absurd parameter offset / count, absurd data offset.
        for vals in [
            [2, 0, 0, 2, 0xFFFF, 0, 0, 0, 0],
            [2, 0, 0, 0xFFFF, 56, 0, 0, 0, 0],
            [0, 3, 0, 0, 0, 0, 3, 0xFFF0, 0],
        ] {
            assert!(parse_smb1_trans_response(&build(vals, 0, 0)).is_err());
        }
        // SetupCount that disagrees with WordCount.
        assert!(parse_smb1_trans_response(&build([0; 9], 5, 0)).is_err());
        // WordCount 1..9 is not a TRANS response.
        let mut b = BytesMut::new();
        Smb1Header::request(Smb1Command::TRANSACTION, 0x98, 0xC801).write(&mut b);
        write_smb1_body(&mut b, &[0; 4], &[]);
        assert!(parse_smb1_trans_response(&b).is_err());
        // Truncated.
        assert!(parse_smb1_trans_response(&b[..31]).is_err());
    }
}
