package codezip

import "encoding/binary"

// archive/zip's NewReader keeps a File for every central directory record
// before a caller can look at any of them, about 200 bytes each for records
// of 46 bytes: a 50 MB zip of empty records would cost a quarter of a
// gigabyte. countRecords finds the same central directory the same way
// (readDirectoryEnd in archive/zip/reader.go) and counts its records without
// keeping anything, so a zip with too many entries is refused before
// NewReader runs.

const (
	endLen        = 22 // end of central directory record
	end64LocLen   = 20 // zip64 end of central directory locator
	end64Len      = 56 // zip64 end of central directory record
	recordLen     = 46 // central directory file header, without its variable fields
	sigEnd        = 0x06054b50
	sigEnd64Loc   = 0x07064b50
	sigEnd64      = 0x06064b50
	sigRecord     = 0x02014b50
	sigDescriptor = 0x08074b50
	maxDirOffset  = 1<<63 - 1
)

// countRecords returns at least the number of central directory records
// archive/zip would read from b, or stop+1 once the count passes stop. It
// returns 0 when archive/zip would find no central directory.
func countRecords(b []byte, stop int) int {
	size := int64(len(b))
	endOff := int64(-1)
	for i, n := range []int64{1024, 65 * 1024} {
		n = min(n, size)
		if p := findEnd(b[size-n:]); p >= 0 {
			endOff = size - n + int64(p)
			break
		}
		if i == 1 || n == size {
			return 0
		}
	}
	e := b[endOff+4:]
	records := uint64(binary.LittleEndian.Uint16(e[6:]))
	dirSize := uint64(binary.LittleEndian.Uint32(e[8:]))
	dirOffset := uint64(binary.LittleEndian.Uint32(e[12:]))

	if records == 0xffff || dirSize == 0xffff || dirOffset == 0xffffffff {
		if loc := endOff - end64LocLen; loc >= 0 {
			l := b[loc:endOff]
			if binary.LittleEndian.Uint32(l) == sigEnd64Loc &&
				binary.LittleEndian.Uint32(l[4:]) == 0 &&
				binary.LittleEndian.Uint32(l[16:]) == 1 {
				p := int64(binary.LittleEndian.Uint64(l[8:]))
				if p < 0 || p > size-end64Len {
					return 0
				}
				e64 := b[p : p+end64Len]
				if binary.LittleEndian.Uint32(e64) != sigEnd64 {
					return 0
				}
				endOff = p
				dirSize = binary.LittleEndian.Uint64(e64[40:])
				dirOffset = binary.LittleEndian.Uint64(e64[48:])
			}
		}
	}
	if dirSize > maxDirOffset || dirOffset > maxDirOffset {
		return 0
	}
	base := endOff - int64(dirSize) - int64(dirOffset)
	start := base + int64(dirOffset)
	if start < 0 || start >= size {
		return 0
	}
	n := walkRecords(b, start, stop)
	if base > 0 {
		// archive/zip falls back to a base offset of 0 when a record
		// parses there; count from both places and keep the larger.
		n = max(n, walkRecords(b, int64(dirOffset), stop))
	}
	return n
}

// findEnd mirrors archive/zip's findSignatureInBlock.
func findEnd(b []byte) int {
	for i := len(b) - endLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(b[i:]) == sigEnd {
			n := int(binary.LittleEndian.Uint16(b[i+endLen-2:]))
			if n+endLen+i > len(b) {
				return -1
			}
			return i
		}
	}
	return -1
}

// walkRecords counts consecutive central directory records from off,
// stopping at the first one that is not complete or lacks the signature, as
// archive/zip does.
func walkRecords(b []byte, off int64, stop int) int {
	size := int64(len(b))
	n := 0
	for n <= stop && off >= 0 && off <= size-recordLen {
		h := b[off:]
		if binary.LittleEndian.Uint32(h) != sigRecord {
			break
		}
		l := int64(recordLen) +
			int64(binary.LittleEndian.Uint16(h[28:])) +
			int64(binary.LittleEndian.Uint16(h[30:])) +
			int64(binary.LittleEndian.Uint16(h[32:]))
		if l > size-off {
			break
		}
		n++
		off += l
	}
	return n
}
