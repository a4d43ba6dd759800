// Package tarutil builds tar streams for strata's layer tests: ordinary
// entries through archive/tar, and hand-made blocks (GNU and PAX sparse
// files, malformed or hostile headers) that archive/tar refuses to write.
// Everything is deterministic: the same calls give the same bytes.
package tarutil

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"strconv"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Epoch is the base time of generated entries; each entry gets its own
// second so that a time copied to the wrong entry shows.
var Epoch = time.Date(2021, 3, 4, 5, 6, 7, 0, time.UTC)

// Builder accumulates a tar stream.
type Builder struct {
	buf  bytes.Buffer
	tw   *tar.Writer
	tick int
	err  error
}

func NewBuilder() *Builder {
	b := &Builder{}
	b.tw = tar.NewWriter(&b.buf)
	return b
}

// Opt adjusts a header before it is written.
type Opt func(*tar.Header)

func Owner(uid, gid int) Opt { return func(h *tar.Header) { h.Uid, h.Gid = uid, gid } }
func Mode(m int64) Opt       { return func(h *tar.Header) { h.Mode = m } }
func MTime(t time.Time) Opt  { return func(h *tar.Header) { h.ModTime = t } }

// Nanos gives the entry a sub-second mtime, which only PAX can carry.
func Nanos(ns int) Opt {
	return func(h *tar.Header) {
		h.ModTime = h.ModTime.Add(time.Duration(ns))
		h.Format = tar.FormatPAX
	}
}

// Xattr adds a SCHILY.xattr.NAME PAX record, as containerd and GNU tar write them.
func Xattr(name, value string) Opt {
	return func(h *tar.Header) {
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+name] = value
		h.Format = tar.FormatPAX
	}
}

// Format forces the header format (e.g. tar.FormatGNU for ././@LongLink names).
func Format(f tar.Format) Opt { return func(h *tar.Header) { h.Format = f } }

func (b *Builder) next() time.Time {
	b.tick++
	return Epoch.Add(time.Duration(b.tick) * time.Second)
}

// Add writes one entry; body is the content of regular files.
func (b *Builder) Add(h *tar.Header, body []byte) {
	if b.err != nil {
		return
	}
	if h.Typeflag == tar.TypeReg {
		h.Size = int64(len(body))
	}
	if b.err = b.tw.WriteHeader(h); b.err != nil {
		b.err = fmt.Errorf("entry %q: %w", h.Name, b.err)
		return
	}
	if len(body) > 0 {
		_, b.err = b.tw.Write(body)
	}
}

func (b *Builder) hdr(typ byte, name string, mode int64, opts []Opt) *tar.Header {
	h := &tar.Header{Typeflag: typ, Name: name, Mode: mode, ModTime: b.next()}
	for _, o := range opts {
		o(h)
	}
	return h
}

func (b *Builder) Dir(name string, mode int64, opts ...Opt) {
	b.Add(b.hdr(tar.TypeDir, name, mode, opts), nil)
}

func (b *Builder) File(name string, mode int64, body []byte, opts ...Opt) {
	b.Add(b.hdr(tar.TypeReg, name, mode, opts), body)
}

func (b *Builder) Symlink(name, target string, opts ...Opt) {
	h := b.hdr(tar.TypeSymlink, name, 0o777, opts)
	h.Linkname = target
	b.Add(h, nil)
}

func (b *Builder) Hardlink(name, target string, opts ...Opt) {
	h := b.hdr(tar.TypeLink, name, 0o644, opts)
	h.Linkname = target
	b.Add(h, nil)
}

// Dev writes a character (tar.TypeChar) or block (tar.TypeBlock) device.
func (b *Builder) Dev(name string, typ byte, major, minor int64, mode int64, opts ...Opt) {
	h := b.hdr(typ, name, mode, opts)
	h.Devmajor, h.Devminor = major, minor
	b.Add(h, nil)
}

func (b *Builder) Fifo(name string, mode int64, opts ...Opt) {
	b.Add(b.hdr(tar.TypeFifo, name, mode, opts), nil)
}

// Raw appends bytes as they are (whole 512-byte blocks, normally).
func (b *Builder) Raw(p []byte) {
	if b.err != nil {
		return
	}
	if b.err = b.tw.Flush(); b.err == nil {
		b.buf.Write(p)
	}
}

// Tick returns the next entry time, for hand-made headers.
func (b *Builder) Tick() time.Time { return b.next() }

// Bytes ends the archive (two zero blocks) and returns the stream.
func (b *Builder) Bytes() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	if err := b.tw.Close(); err != nil {
		return nil, err
	}
	return b.buf.Bytes(), nil
}

// Unterminated returns the stream without the end-of-archive blocks.
func (b *Builder) Unterminated() ([]byte, error) {
	if b.err != nil {
		return nil, b.err
	}
	if err := b.tw.Flush(); err != nil {
		return nil, err
	}
	return b.buf.Bytes(), nil
}

// Hdr describes a hand-made header block.
type Hdr struct {
	Name, Linkname, Prefix string
	Mode                   int64
	Uid, Gid               int64
	Size                   int64
	MTime                  time.Time
	Typeflag               byte
	Devmajor, Devminor     int64
	GNU                    bool           // GNU magic ("ustar  \0") instead of POSIX ("ustar\x0000")
	Extra                  map[int][]byte // bytes to place at given offsets (GNU sparse fields)
}

func octal(dst []byte, v int64) {
	s := strconv.FormatInt(v, 8)
	for len(s) < len(dst)-1 {
		s = "0" + s
	}
	copy(dst, s)
}

// Block returns the 512-byte header with a correct checksum.
func (h Hdr) Block() []byte {
	blk := make([]byte, 512)
	copy(blk[0:100], h.Name)
	octal(blk[100:108], h.Mode)
	octal(blk[108:116], h.Uid)
	octal(blk[116:124], h.Gid)
	octal(blk[124:136], h.Size)
	octal(blk[136:148], h.MTime.Unix())
	blk[156] = h.Typeflag
	copy(blk[157:257], h.Linkname)
	if h.GNU {
		copy(blk[257:265], "ustar  \x00")
	} else {
		copy(blk[257:265], "ustar\x0000")
		copy(blk[345:500], h.Prefix)
	}
	octal(blk[329:337], h.Devmajor)
	octal(blk[337:345], h.Devminor)
	for off, p := range h.Extra {
		copy(blk[off:], p)
	}
	Checksum(blk)
	return blk
}

// Checksum (re)computes a header block's checksum field.
func Checksum(blk []byte) {
	copy(blk[148:156], "        ")
	sum := 0
	for _, c := range blk[:512] {
		sum += int(c)
	}
	copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
}

// Pad rounds data up to whole blocks.
func Pad(p []byte) []byte {
	if r := len(p) % 512; r != 0 {
		p = append(p, make([]byte, 512-r)...)
	}
	return p
}

// PAXRecord formats one "LEN key=value\n" record (LEN counts itself).
func PAXRecord(k, v string) string {
	n := len(k) + len(v) + 3
	n += len(strconv.Itoa(n))
	rec := fmt.Sprintf("%d %s=%s\n", n, k, v)
	if len(rec) != n { // the length crossed a power of ten: one more digit
		rec = fmt.Sprintf("%d %s=%s\n", len(rec), k, v)
	}
	return rec
}

// PAXHeader returns an 'x' header block plus its padded records, in order.
func PAXHeader(name string, records [][2]string) []byte {
	var data bytes.Buffer
	for _, r := range records {
		data.WriteString(PAXRecord(r[0], r[1]))
	}
	h := Hdr{Name: name, Mode: 0o644, Size: int64(data.Len()), MTime: Epoch, Typeflag: tar.TypeXHeader}
	return append(h.Block(), Pad(data.Bytes())...)
}

// Pattern returns n deterministic pseudo-random bytes for seed.
func Pattern(seed uint64, n int) []byte {
	p := make([]byte, n)
	x := seed*0x9E3779B97F4A7C15 + 1
	for i := range p {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		p[i] = byte(x >> 24)
	}
	return p
}

// Gzip compresses p; members > 1 splits it into that many concatenated gzip
// members (valid gzip that single-member decoders get wrong).
func Gzip(p []byte, members int) []byte {
	var out bytes.Buffer
	if members < 1 {
		members = 1
	}
	step := (len(p) + members - 1) / members
	for i := 0; i < members; i++ {
		lo, hi := i*step, (i+1)*step
		if lo > len(p) {
			lo = len(p)
		}
		if hi > len(p) {
			hi = len(p)
		}
		zw, _ := gzip.NewWriterLevel(&out, gzip.DefaultCompression)
		zw.ModTime = time.Time{}
		zw.Write(p[lo:hi])
		zw.Close()
	}
	return out.Bytes()
}

// Zstd compresses p; skippable puts a skippable frame before the data frame
// (containerd's magic detection accepts that as zstd).
func Zstd(p []byte, skippable bool) []byte {
	var out bytes.Buffer
	if skippable {
		// magic 0x184D2A5E, little-endian length 4, 4 bytes of user data
		out.Write([]byte{0x5e, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 's', 't', 'r', 'a'})
	}
	zw, err := zstd.NewWriter(&out, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		panic(err)
	}
	zw.Write(p)
	zw.Close()
	return out.Bytes()
}
