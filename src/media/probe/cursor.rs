//! The container-neutral reading layer of the probe: a checked, buffered
//! reader over the file ([`Input`]) and a big-endian cursor over an in-memory
//! payload ([`Cursor`]). Every read and seek is checked against the end of
//! what it reads first, so a size field that lies becomes
//! [`ProbeError::Truncated`] instead of a panic or a huge allocation.

use std::io::{BufReader, Read, Seek};

use super::ProbeError;

/// Maps an I/O error; an early end of file means the file is cut short.
pub(super) fn io_error(error: std::io::Error) -> ProbeError {
    if error.kind() == std::io::ErrorKind::UnexpectedEof {
        truncated("unexpected end of file")
    } else {
        ProbeError::Io(error.to_string())
    }
}

/// A [`ProbeError::Truncated`] with this explanation.
pub(super) fn truncated(message: impl Into<String>) -> ProbeError {
    ProbeError::Truncated(message.into())
}

/// A buffered reader that knows its position and the file length, so every
/// read and seek is checked against the end of the file first.
pub(super) struct Input<R> {
    reader: BufReader<R>,
    pos: u64,
    len: u64,
}

impl<R: Read + Seek> Input<R> {
    /// Reads `reader`, which holds `len` bytes, from its start.
    pub(super) fn new(reader: R, len: u64) -> Self {
        Input { reader: BufReader::new(reader), pos: 0, len }
    }

    /// The offset of the next byte read.
    pub(super) fn pos(&self) -> u64 {
        self.pos
    }

    /// The file's length in bytes.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    pub(super) fn remaining(&self) -> u64 {
        self.len.saturating_sub(self.pos)
    }

    pub(super) fn seek_to(&mut self, target: u64) -> Result<(), ProbeError> {
        if target > self.len {
            return Err(truncated("a size points past the end of the file"));
        }
        let delta = i128::from(target) - i128::from(self.pos);
        let delta = i64::try_from(delta).map_err(|_| truncated("offset out of range"))?;
        self.reader.seek_relative(delta).map_err(io_error)?;
        self.pos = target;
        Ok(())
    }

    pub(super) fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ProbeError> {
        let wanted = buf.len() as u64;
        if wanted > self.remaining() {
            return Err(truncated("unexpected end of file"));
        }
        self.reader.read_exact(buf).map_err(io_error)?;
        self.pos += wanted;
        Ok(())
    }

    pub(super) fn read_u8(&mut self) -> Result<u8, ProbeError> {
        let mut byte = [0u8; 1];
        self.read_exact(&mut byte)?;
        Ok(byte[0])
    }

    /// Reads `len` bytes into a new buffer, refusing more than `cap`.
    pub(super) fn read_vec(&mut self, len: u64, cap: u64, what: &str) -> Result<Vec<u8>, ProbeError> {
        if len > cap {
            return Err(truncated(format!("{what} is larger than {cap} bytes")));
        }
        if len > self.remaining() {
            return Err(truncated(format!("{what} runs past the end of the file")));
        }
        let len = usize::try_from(len).map_err(|_| truncated(format!("{what} is too large")))?;
        let mut buf = vec![0u8; len];
        self.read_exact(&mut buf)?;
        Ok(buf)
    }
}

/// A big-endian reader over an in-memory box payload.
pub(super) struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(data: &'a [u8], what: &'static str) -> Self {
        Cursor { data, pos: 0, what }
    }

    /// The offset of the next byte read, from the start of the payload.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8], ProbeError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.data.len());
        let end = end.ok_or_else(|| truncated(format!("the {} box is too short", self.what)))?;
        let slice = &self.data[self.pos..end];
        self.pos = end;
        Ok(slice)
    }

    pub(super) fn skip(&mut self, n: usize) -> Result<(), ProbeError> {
        self.bytes(n).map(|_| ())
    }

    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], ProbeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.bytes(N)?);
        Ok(out)
    }

    pub(super) fn u8(&mut self) -> Result<u8, ProbeError> {
        Ok(self.array::<1>()?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16, ProbeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(super) fn u32(&mut self) -> Result<u32, ProbeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(super) fn u64(&mut self) -> Result<u64, ProbeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }
}
