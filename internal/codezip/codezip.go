package codezip

import (
	"archive/zip"
	"bytes"
	"cmp"
	"compress/flate"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// Limits bounds what a package may hold. A zero or negative field takes
// LambdaLimits' value.
type Limits struct {
	MaxZipped   int64 // bytes of the zip itself
	MaxUnzipped int64 // sum of the sizes of all regular files, as decompressed
	MaxEntries  int   // zip entries, and files, directories and symlinks once unpacked
}

// LambdaLimits are Lambda's quotas for a package uploaded directly.
var LambdaLimits = Limits{
	MaxZipped:   52428800,  // 50 MB
	MaxUnzipped: 262144000, // 250 MB
	MaxEntries:  100000,
}

func (l Limits) orDefaults() Limits {
	if l.MaxZipped <= 0 {
		l.MaxZipped = LambdaLimits.MaxZipped
	}
	if l.MaxUnzipped <= 0 {
		l.MaxUnzipped = LambdaLimits.MaxUnzipped
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = LambdaLimits.MaxEntries
	}
	return l
}

// Info describes an accepted package.
type Info struct {
	Sha256       string // base64 (standard, padded) SHA-256 of the zip: Lambda's CodeSha256
	Size         int64  // bytes of the zip: Lambda's CodeSize
	UnzippedSize int64  // bytes of all regular files, as decompressed
	Files        int    // regular files
}

// Inspect checks a zip completely without touching the disk: the central
// directory, every entry's name and type, every symlink's target, and every
// file's content, decompressed and counted as it streams. It returns at the
// first limit passed or problem found; any error it returns is an *Error.
func Inspect(zip []byte, lim Limits) (Info, error) {
	p, err := open(zip, lim)
	if err != nil {
		return Info{}, err
	}
	buf := make([][]byte, p.workers())
	size, err := p.each(func(w int, _ *node, r io.Reader) error {
		if buf[w] == nil {
			buf[w] = make([]byte, 64<<10)
		}
		for {
			_, err := r.Read(buf[w])
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
		}
	})
	if err != nil {
		return Info{}, err
	}
	return p.info(size), nil
}

// A pkg is a zip whose structure has been checked; its files' content has
// not been read yet.
type pkg struct {
	zip  []byte
	lim  Limits
	r    *zip.Reader
	t    *tree
	sum  chan [sha256.Size]byte
	stop atomic.Bool
}

// open checks everything but the files' content: sizes, entry count, names,
// types, methods, symlinks, and the declared total size (a quick refusal
// only; the real count happens while reading).
func open(b []byte, lim Limits) (*pkg, error) {
	lim = lim.orDefaults()
	if int64(len(b)) > lim.MaxZipped {
		return nil, tooLarge(lim.MaxZipped)
	}
	p := &pkg{zip: b, lim: lim, sum: make(chan [sha256.Size]byte, 1)}
	go func() { p.sum <- sha256.Sum256(b) }()

	if countRecords(b, lim.MaxEntries) > lim.MaxEntries {
		return nil, tooManyEntries(lim.MaxEntries)
	}
	r, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, corrupt("", err)
	}
	if len(r.File) > lim.MaxEntries {
		return nil, tooManyEntries(lim.MaxEntries)
	}
	p.r = r
	p.t = newTree(lim.MaxEntries)
	var declared uint64
	var linkBytes int
	for i, f := range r.File {
		clean, dirName, e := cleanName(f.Name)
		if e != nil {
			return nil, e
		}
		kind, exec, e := entryKind(f, dirName)
		if e != nil {
			return nil, e
		}
		if clean == "" {
			if kind != kindDir {
				return nil, refuse(Invalid, f.Name, "entry %s has no file name", quote(f.Name))
			}
			continue // the root itself
		}
		if kind == kindDir {
			if f.UncompressedSize64 != 0 {
				return nil, corrupt(f.Name, errors.New("directory entry with content"))
			}
		} else if e := checkMethod(f); e != nil {
			return nil, e
		}
		n, e := p.t.add(f.Name, clean, kind)
		if e != nil {
			return nil, e
		}
		switch kind {
		case kindFile:
			n.entry, n.exec = i, exec
			declared = addSat(declared, f.UncompressedSize64)
			if declared > uint64(lim.MaxUnzipped) {
				return nil, unzippedTooLarge(lim.MaxUnzipped)
			}
		case kindSymlink:
			n.entry = i
			if n.target, e = p.readTarget(f); e != nil {
				return nil, e
			}
			if linkBytes += len(n.target); linkBytes > maxLinkBytes {
				return nil, refuse(Invalid, f.Name, "symlink targets add up to more than %d bytes", maxLinkBytes)
			}
			if e := checkTarget(f.Name, n.target); e != nil {
				return nil, e
			}
		}
	}
	if e := p.t.checkLinks(); e != nil {
		return nil, e
	}
	return p, nil
}

// entryKind tells a directory, a file or a symlink from the entry's mode,
// and whether a file is executable.
func entryKind(f *zip.File, dirName bool) (nodeKind, bool, *Error) {
	const special = fs.ModeDevice | fs.ModeCharDevice | fs.ModeNamedPipe | fs.ModeSocket | fs.ModeIrregular
	m := f.Mode()
	switch {
	case m&special != 0:
		return 0, false, refuse(Unsafe, f.Name, "entry %s is a device, named pipe or socket, not a file", quote(f.Name))
	case m&fs.ModeSymlink != 0 && dirName:
		return 0, false, refuse(Invalid, f.Name, "entry %s is marked both as a symlink and as a directory", quote(f.Name))
	case m&fs.ModeSymlink != 0:
		return kindSymlink, false, nil
	case m.IsDir():
		return kindDir, false, nil
	}
	return kindFile, m&0o111 != 0, nil
}

func checkMethod(f *zip.File) *Error {
	switch {
	case f.Flags&0x1 != 0:
		return refuse(Invalid, f.Name, "entry %s is encrypted", quote(f.Name))
	case f.Method != zip.Store && f.Method != zip.Deflate:
		return refuse(Invalid, f.Name, "entry %s uses compression method %d; only stored (0) and deflate (8) are supported", quote(f.Name), f.Method)
	}
	return nil
}

// readTarget reads a symlink's target, reading no more than one byte past
// the longest target allowed.
func (p *pkg) readTarget(f *zip.File) (string, *Error) {
	r, e := p.openEntry(f, nil)
	if e != nil {
		return "", e
	}
	defer r.close()
	b, err := io.ReadAll(io.LimitReader(r, maxName+1))
	if err != nil {
		if e, ok := err.(*Error); ok {
			return "", e
		}
		return "", corrupt(f.Name, err)
	}
	return string(b), nil
}

func addSat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

func (p *pkg) workers() int {
	return max(1, min(runtime.GOMAXPROCS(0), len(p.t.files)))
}

// each streams every regular file to fn, spread over p.workers()
// goroutines; w is the worker's index. The reader handed to fn counts the
// bytes that come out against the entry's declared size and the package's
// MaxUnzipped, and fails the moment either is passed. each returns the
// total bytes read and the first error: an *Error for anything wrong with
// the zip, else what fn returned. It may be called once per pkg.
func (p *pkg) each(fn func(w int, n *node, r io.Reader) error) (int64, error) {
	files := p.t.files
	nw := p.workers()
	if nw > 1 {
		// Biggest first, so that one large file does not start last.
		files = slices.Clone(files)
		slices.SortFunc(files, func(a, b *node) int {
			return cmp.Compare(p.r.File[b.entry].CompressedSize64, p.r.File[a.entry].CompressedSize64)
		})
	}
	var (
		next  atomic.Int64
		total atomic.Int64
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	work := func(w int) {
		for {
			i := next.Add(1) - 1
			if i >= int64(len(files)) || p.stop.Load() {
				return
			}
			if err := p.one(w, files[i], &total, fn); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					p.stop.Store(true)
				}
				mu.Unlock()
				return
			}
		}
	}
	for w := 1; w < nw; w++ {
		wg.Go(func() { work(w) })
	}
	work(0)
	wg.Wait()
	if first != nil {
		return 0, first
	}
	return total.Load(), nil
}

var errStopped = errors.New("stopped: another entry failed")

func (p *pkg) one(w int, n *node, total *atomic.Int64, fn func(int, *node, io.Reader) error) error {
	r, e := p.openEntry(p.r.File[n.entry], total)
	if e != nil {
		return e
	}
	defer r.close()
	if err := fn(w, n, r); err != nil {
		if r.failed != nil {
			return r.failed
		}
		return err
	}
	return nil
}

// An entryReader streams one entry's content straight from the zip's bytes
// (archive/zip's File.Open would read through a SectionReader and a bufio
// buffer), with the checks of archive/zip's checksumReader — size, CRC-32,
// data descriptor — and the package's own counts.
type entryReader struct {
	p      *pkg
	f      *zip.File
	total  *atomic.Int64 // nil: not counted against MaxUnzipped
	desc   []byte        // what follows the data: the data descriptor, if flagged
	src    io.Reader
	fr     io.ReadCloser // pooled inflater, if deflated
	crc    uint32
	n      uint64
	err    error // sticky: io.EOF or failed
	failed error // an *Error, or errStopped
}

var inflaters sync.Pool

func (p *pkg) openEntry(f *zip.File, total *atomic.Int64) (*entryReader, *Error) {
	off, err := f.DataOffset()
	if err != nil {
		return nil, corrupt(f.Name, err)
	}
	if off < 0 {
		return nil, corrupt(f.Name, errors.New("negative data offset"))
	}
	// Data running past the end of the zip is cut short there, as
	// archive/zip's SectionReader does; the size and CRC checks then
	// decide.
	size := int64(len(p.zip))
	off = min(off, size)
	end := off + int64(min(f.CompressedSize64, uint64(size-off)))
	r := &entryReader{p: p, f: f, total: total, desc: p.zip[end:]}
	body := bytes.NewReader(p.zip[off:end])
	switch f.Method {
	case zip.Store:
		r.src = body
	case zip.Deflate:
		if fr, ok := inflaters.Get().(io.ReadCloser); ok {
			fr.(flate.Resetter).Reset(body, nil)
			r.fr = fr
		} else {
			r.fr = flate.NewReader(body)
		}
		r.src = r.fr
	default:
		return nil, corrupt(f.Name, zip.ErrAlgorithm)
	}
	return r, nil
}

func (r *entryReader) close() {
	if r.fr != nil {
		// Let go of the zip's bytes before pooling the inflater.
		r.fr.(flate.Resetter).Reset(bytes.NewReader(nil), nil)
		inflaters.Put(r.fr)
		r.fr = nil
	}
}

func (r *entryReader) Read(b []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.p.stop.Load() {
		return 0, r.fail(errStopped)
	}
	n, err := r.src.Read(b)
	r.crc = crc32.Update(r.crc, crc32.IEEETable, b[:n])
	r.n += uint64(n)
	switch {
	case r.n > r.f.UncompressedSize64:
		return 0, r.fail(corrupt(r.f.Name, errors.New("entry inflates to more than its declared size")))
	case r.total != nil && r.total.Add(int64(n)) > r.p.lim.MaxUnzipped:
		return 0, r.fail(unzippedTooLarge(r.p.lim.MaxUnzipped))
	case err == io.EOF:
		if cause := r.verify(); cause != nil {
			return 0, r.fail(corrupt(r.f.Name, cause))
		}
		r.err = io.EOF
		return n, io.EOF
	case err != nil:
		return 0, r.fail(corrupt(r.f.Name, err))
	}
	return n, nil
}

func (r *entryReader) fail(err error) error {
	r.err, r.failed = err, err
	return err
}

// verify runs at the end of the data, as archive/zip's checksumReader does.
func (r *entryReader) verify() error {
	f := r.f
	if r.n != f.UncompressedSize64 {
		return io.ErrUnexpectedEOF
	}
	if f.Flags&0x8 != 0 {
		d := r.desc
		if len(d) >= 4 && binary.LittleEndian.Uint32(d) == sigDescriptor {
			d = d[4:]
		}
		if len(d) < 12 {
			return io.ErrUnexpectedEOF
		}
		if binary.LittleEndian.Uint32(d) != f.CRC32 || r.crc != f.CRC32 {
			return zip.ErrChecksum
		}
		return nil
	}
	if f.CRC32 != 0 && r.crc != f.CRC32 {
		return zip.ErrChecksum
	}
	return nil
}

func (p *pkg) info(unzipped int64) Info {
	sum := <-p.sum
	return Info{
		Sha256:       base64.StdEncoding.EncodeToString(sum[:]),
		Size:         int64(len(p.zip)),
		UnzippedSize: unzipped,
		Files:        len(p.t.files),
	}
}
