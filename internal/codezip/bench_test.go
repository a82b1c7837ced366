package codezip

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Benchmarks run on 50 MB zips, the largest direct upload. Throughput
// (MB/s) counts zip bytes in; unzipped-MB/s counts file bytes out.

type benchZip struct {
	name     string
	files    int     // how many files share the 50 MB
	text     float64 // fraction of files that are compressible text; the rest is random bytes
	method   uint16
	once     sync.Once
	zip      []byte
	unzipped int64
}

var benchZips = []*benchZip{
	{name: "deflate-text-1000-files", files: 1000, text: 1, method: zip.Deflate},
	{name: "deflate-text-1-file", files: 1, text: 1, method: zip.Deflate},
	{name: "deflate-mixed-20000-files", files: 20000, text: 0.5, method: zip.Deflate},
	{name: "stored-random-1000-files", files: 1000, text: 0, method: zip.Store},
}

const benchZipSize = 50 << 20

func (bz *benchZip) get(b *testing.B) []byte {
	bz.once.Do(func() {
		start := time.Now()
		bz.zip, bz.unzipped = makeBenchZip(b, bz.files, bz.text, bz.method)
		b.Logf("%s: %d bytes zipped, %d unzipped, built in %v", bz.name, len(bz.zip), bz.unzipped, time.Since(start).Round(time.Millisecond))
	})
	return bz.zip
}

// makeBenchZip writes files until the zip nears 50 MB: text files of
// indented lines of words from a small vocabulary (deflate shrinks them
// about as much as source code) and files of random bytes (like binaries
// and already-compressed assets).
func makeBenchZip(b *testing.B, files int, text float64, method uint16) ([]byte, int64) {
	rng := rand.New(rand.NewPCG(1, 2))
	vocab := make([][]byte, 512)
	for i := range vocab {
		w := make([]byte, 2+rng.IntN(9))
		for j := range w {
			w[j] = 'a' + byte(rng.IntN(26))
		}
		vocab[i] = w
	}
	fill := func(buf []byte, n int) []byte {
		for len(buf) < n {
			buf = append(buf, "\n        "[:1+2*rng.IntN(5)]...)
			for range 3 + rng.IntN(8) {
				buf = append(buf, vocab[rng.IntN(len(vocab))]...)
				buf = append(buf, " (){}.=,;"[rng.IntN(9)])
			}
		}
		return buf[:n]
	}
	random := func(buf []byte, n int) []byte {
		for len(buf) < n {
			buf = binary.LittleEndian.AppendUint64(buf, rng.Uint64())
		}
		return buf[:n]
	}
	// Size the files from the ratio deflate gets on a sample, so that
	// even a single file lands near the budget.
	ratio := 1.0
	if method == zip.Deflate {
		sample := fill(nil, 4<<20)
		var c bytes.Buffer
		fw, _ := flate.NewWriter(&c, flate.DefaultCompression)
		fw.Write(sample)
		fw.Close()
		ratio = float64(len(sample)) / float64(c.Len())
	}
	perFile := int(benchZipSize * 0.97 / float64(files) / (text/ratio + (1 - text)))
	var out bytes.Buffer
	w := zip.NewWriter(&out)
	var unzipped int64
	var buf []byte
	for i := 0; i < files && out.Len() < benchZipSize*97/100; i++ {
		if rng.Float64() < text {
			buf = fill(buf[:0], perFile)
		} else {
			buf = random(buf[:0], perFile)
		}
		fw, err := w.CreateHeader(&zip.FileHeader{Name: "pkg/" + strconv.Itoa(i%50) + "/f" + strconv.Itoa(i), Method: method})
		if err != nil {
			b.Fatal(err)
		}
		fw.Write(buf)
		unzipped += int64(len(buf))
		w.Flush()
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return out.Bytes(), unzipped
}

func BenchmarkInspect(b *testing.B) {
	for _, bz := range benchZips {
		b.Run(bz.name, func(b *testing.B) {
			z := bz.get(b)
			b.SetBytes(int64(len(z)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if _, err := Inspect(z, LambdaLimits); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(bz.unzipped)*float64(n)/b.Elapsed().Seconds()/1e6, "unzipped-MB/s")
		})
	}
}

func BenchmarkExtract(b *testing.B) {
	for _, bz := range benchZips[:1] {
		b.Run(bz.name, func(b *testing.B) {
			z := bz.get(b)
			b.SetBytes(int64(len(z)))
			root := b.TempDir()
			n := 0
			for b.Loop() {
				out := filepath.Join(root, strconv.Itoa(n))
				if _, err := Extract(z, out, LambdaLimits); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				os.RemoveAll(out)
				b.StartTimer()
				n++
			}
			b.ReportMetric(float64(bz.unzipped)*float64(n)/b.Elapsed().Seconds()/1e6, "unzipped-MB/s")
		})
	}
}

// BenchmarkArchiveZip is the floor Inspect stands on: reading every file
// once through archive/zip on one goroutine, with no other check.
func BenchmarkArchiveZip(b *testing.B) {
	for _, bz := range benchZips {
		b.Run(bz.name, func(b *testing.B) {
			z := bz.get(b)
			b.SetBytes(int64(len(z)))
			buf := make([]byte, 64<<10)
			for b.Loop() {
				r, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
				if err != nil {
					b.Fatal(err)
				}
				for _, f := range r.File {
					rc, err := f.Open()
					if err != nil {
						b.Fatal(err)
					}
					for err == nil {
						_, err = rc.Read(buf)
					}
					if err != io.EOF {
						b.Fatal(err)
					}
					rc.Close()
				}
			}
		})
	}
}
