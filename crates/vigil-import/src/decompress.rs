//! Block decompressors for nfdump files: LZ4 raw blocks and LZO1X (nfdump's `-y` and `-z`).
//! Written from the format descriptions as bounded, safe decoders: every read is checked, the
//! output is capped, back-references must point inside the output; corrupt input is an error.

/// Why a block could not be decompressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecompressError {
    Truncated,
    BadOffset,
    TooLarge,
}

struct In<'a> {
    b: &'a [u8],
    i: usize,
}

impl In<'_> {
    fn byte(&mut self) -> Result<u8, DecompressError> {
        let v = *self.b.get(self.i).ok_or(DecompressError::Truncated)?;
        self.i += 1;
        Ok(v)
    }
    fn take(&mut self, n: usize) -> Result<&[u8], DecompressError> {
        let end = self.i.checked_add(n).ok_or(DecompressError::Truncated)?;
        let s = self.b.get(self.i..end).ok_or(DecompressError::Truncated)?;
        self.i = end;
        Ok(s)
    }
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
}

fn push_lits(out: &mut Vec<u8>, lits: &[u8], cap: usize) -> Result<(), DecompressError> {
    if out.len() + lits.len() > cap {
        return Err(DecompressError::TooLarge);
    }
    out.extend_from_slice(lits);
    Ok(())
}

/// Copies `len` bytes starting `dist` bytes back (overlap allowed, as both formats require).
fn copy_back(out: &mut Vec<u8>, dist: usize, len: usize, cap: usize) -> Result<(), DecompressError> {
    if dist == 0 || dist > out.len() {
        return Err(DecompressError::BadOffset);
    }
    if out.len() + len > cap {
        return Err(DecompressError::TooLarge);
    }
    let start = out.len() - dist;
    for k in 0..len {
        let v = out[start + k];
        out.push(v);
    }
    Ok(())
}

/// Reads an extended length: zero bytes add 255 each, the first non-zero byte ends it.
fn ext_len(r: &mut In, base: usize) -> Result<usize, DecompressError> {
    let mut t = base;
    loop {
        let b = r.byte()?;
        if b != 0 {
            return Ok(t + b as usize);
        }
        t += 255;
        if t > 1 << 30 {
            return Err(DecompressError::TooLarge);
        }
    }
}

/// LZ4 raw block (no frame header), output at most `cap` bytes.
pub fn lz4_block(input: &[u8], cap: usize) -> Result<Vec<u8>, DecompressError> {
    let mut r = In { b: input, i: 0 };
    let mut out = Vec::with_capacity((input.len() * 3).min(cap));
    // Each sequence consumes at least its token byte.
    while !r.done() {
        let token = r.byte()?;
        let mut lit = (token >> 4) as usize;
        if lit == 15 {
            lit = lz4_more(&mut r, lit)?;
        }
        let lits = r.take(lit)?;
        push_lits(&mut out, lits, cap)?;
        if r.done() {
            break;
        }
        let off = u16::from_le_bytes([r.byte()?, r.byte()?]) as usize;
        let mut mlen = (token & 15) as usize;
        if mlen == 15 {
            mlen = lz4_more(&mut r, mlen)?;
        }
        copy_back(&mut out, off, mlen + 4, cap)?;
    }
    Ok(out)
}

fn lz4_more(r: &mut In, mut n: usize) -> Result<usize, DecompressError> {
    loop {
        let b = r.byte()?;
        n += b as usize;
        if n > 1 << 30 {
            return Err(DecompressError::TooLarge);
        }
        if b != 255 {
            return Ok(n);
        }
    }
}

/// LZO1X (as minilzo's `lzo1x_1_compress` writes it), output at most `cap` bytes.
pub fn lzo1x(input: &[u8], cap: usize) -> Result<Vec<u8>, DecompressError> {
    let mut r = In { b: input, i: 0 };
    let mut out: Vec<u8> = Vec::with_capacity((input.len() * 3).min(cap));
    // state: 0 after a match with no trailing literals (or at start), 1..3 after that many
    // trailing literals, 4 after a literal run.
    let mut state: usize = 0;
    if let Some(&first) = input.first()
        && first > 17
    {
        r.i = 1;
        let t = (first - 17) as usize;
        let lits = r.take(t)?;
        push_lits(&mut out, lits, cap)?;
        state = if t < 4 { t } else { 4 };
    }
    // Each instruction consumes at least one byte; the end marker stops the loop.
    loop {
        let t = r.byte()? as usize;
        let (dist, len, next);
        if t < 16 {
            if state == 0 {
                let n = if t == 0 { ext_len(&mut r, 15)? } else { t };
                let lits = r.take(n + 3)?;
                push_lits(&mut out, lits, cap)?;
                state = 4;
                continue;
            }
            let h = r.byte()? as usize;
            next = t & 3;
            if state == 4 {
                // 3-byte match, offset above 2 KiB.
                dist = 1 + 0x0800 + (t >> 2) + (h << 2);
                len = 3;
            } else {
                dist = 1 + (t >> 2) + (h << 2);
                len = 2;
            }
        } else if t >= 64 {
            let h = r.byte()? as usize;
            next = t & 3;
            dist = 1 + ((t >> 2) & 7) + (h << 3);
            len = (t >> 5) + 1;
        } else if t >= 32 {
            let n = if t & 31 == 0 { ext_len(&mut r, 31)? } else { t & 31 };
            let d = u16::from_le_bytes([r.byte()?, r.byte()?]) as usize;
            next = d & 3;
            dist = 1 + (d >> 2);
            len = n + 2;
        } else {
            let n = if t & 7 == 0 { ext_len(&mut r, 7)? } else { t & 7 };
            let d = u16::from_le_bytes([r.byte()?, r.byte()?]) as usize;
            next = d & 3;
            let back = ((t & 8) << 11) + (d >> 2);
            if back == 0 {
                // End-of-stream marker.
                return Ok(out);
            }
            dist = back + 0x4000;
            len = n + 2;
        }
        copy_back(&mut out, dist, len, cap)?;
        let lits = r.take(next)?;
        push_lits(&mut out, lits, cap)?;
        state = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lz4_literals_and_overlapping_match() {
        // "abc" then a 6-byte match at distance 3: "abcabcabc".
        let out = lz4_block(&[0x32, b'a', b'b', b'c', 3, 0], 100).unwrap();
        assert_eq!(out, b"abcabcabc");
        assert_eq!(lz4_block(&[0x32, b'a', b'b', b'c', 9, 0], 100), Err(DecompressError::BadOffset));
        assert_eq!(lz4_block(&[0x32, b'a', b'b', b'c', 3, 0], 5), Err(DecompressError::TooLarge));
        assert_eq!(lz4_block(&[0xf0], 100), Err(DecompressError::Truncated));
    }

    #[test]
    fn lzo_first_literal_run_and_end_marker() {
        // First byte 17+4: four literals, then the end marker (M4 with zero distance).
        let out = lzo1x(&[21, b'w', b'x', b'y', b'z', 0x11, 0, 0], 100).unwrap();
        assert_eq!(out, b"wxyz");
        assert!(lzo1x(&[21, b'w'], 100).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u32 = 1;
        for len in 0..300 {
            let v: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = lz4_block(&v, 1 << 16);
            let _ = lzo1x(&v, 1 << 16);
        }
    }
}
