package tarutil

import (
	"archive/tar"
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Chunk is one data region of a sparse file; everything between chunks is a hole.
type Chunk struct {
	Off  int64
	Data []byte
}

// SparseFile describes a sparse regular file; Expand gives its full content.
type SparseFile struct {
	Name     string
	RealSize int64
	Chunks   []Chunk // sorted, non-overlapping, inside RealSize
	Mode     int64
	MTime    time.Time
}

// Expand returns the logical content: zeros with the chunks in place.
func (s SparseFile) Expand() []byte {
	p := make([]byte, s.RealSize)
	for _, c := range s.Chunks {
		copy(p[c.Off:], c.Data)
	}
	return p
}

// sparseMap returns the map entries plus the terminating {RealSize, 0}
// entry GNU tar always writes (a file that is all hole has only that one).
// GNU tar reads each chunk's data from a fresh 512-byte block, other readers
// read the data contiguously: they agree only when every chunk but the last
// is a whole number of blocks, as GNU tar writes them, so callers keep that.
func (s SparseFile) sparseMap() []Chunk {
	return append(append([]Chunk{}, s.Chunks...), Chunk{Off: s.RealSize})
}

func (s SparseFile) stored() []byte {
	var b bytes.Buffer
	for _, c := range s.Chunks {
		b.Write(c.Data)
	}
	return b.Bytes()
}

func octal12(v int64) []byte {
	b := make([]byte, 12)
	octal(b, v)
	return b
}

// GNUOld encodes s as an old-GNU sparse entry (typeflag 'S'): up to four map
// entries in the header, the rest in 512-byte extension blocks.
func (s SparseFile) GNUOld() []byte {
	m := s.sparseMap()
	data := s.stored()
	h := Hdr{Name: s.Name, Mode: s.Mode, Size: int64(len(data)), MTime: s.MTime, Typeflag: tar.TypeGNUSparse,
		GNU: true, Extra: map[int][]byte{483: octal12(s.RealSize)}}
	for i := 0; i < 4 && i < len(m); i++ {
		h.Extra[386+i*24] = octal12(m[i].Off)
		h.Extra[386+i*24+12] = octal12(int64(len(m[i].Data)))
	}
	rest := m[min(4, len(m)):]
	if len(rest) > 0 {
		h.Extra[482] = []byte{1}
	}
	out := h.Block()
	for len(rest) > 0 {
		blk := make([]byte, 512)
		n := min(21, len(rest))
		for i := 0; i < n; i++ {
			copy(blk[i*24:], octal12(rest[i].Off))
			copy(blk[i*24+12:], octal12(int64(len(rest[i].Data))))
		}
		rest = rest[n:]
		if len(rest) > 0 {
			blk[504] = 1
		}
		out = append(out, blk...)
	}
	return append(out, Pad(data)...)
}

// PAX encodes s in one of GNU's PAX sparse formats: "0.0" (repeated
// offset/numbytes records), "0.1" (GNU.sparse.map) or "1.0" (map at the start
// of the data, real name in GNU.sparse.name).
func (s SparseFile) PAX(version string) ([]byte, error) {
	m := s.sparseMap()
	data := s.stored()
	var recs [][2]string
	name := s.Name
	switch version {
	case "0.0":
		recs = append(recs, [2]string{"GNU.sparse.size", strconv.FormatInt(s.RealSize, 10)},
			[2]string{"GNU.sparse.numblocks", strconv.Itoa(len(m))})
		for _, c := range m {
			recs = append(recs, [2]string{"GNU.sparse.offset", strconv.FormatInt(c.Off, 10)},
				[2]string{"GNU.sparse.numbytes", strconv.Itoa(len(c.Data))})
		}
	case "0.1":
		var parts []string
		for _, c := range m {
			parts = append(parts, strconv.FormatInt(c.Off, 10), strconv.Itoa(len(c.Data)))
		}
		recs = append(recs, [2]string{"GNU.sparse.size", strconv.FormatInt(s.RealSize, 10)},
			[2]string{"GNU.sparse.numblocks", strconv.Itoa(len(m))},
			[2]string{"GNU.sparse.map", strings.Join(parts, ",")})
	case "1.0":
		recs = append(recs, [2]string{"GNU.sparse.major", "1"}, [2]string{"GNU.sparse.minor", "0"},
			[2]string{"GNU.sparse.name", s.Name},
			[2]string{"GNU.sparse.realsize", strconv.FormatInt(s.RealSize, 10)})
		var mb bytes.Buffer
		fmt.Fprintf(&mb, "%d\n", len(m))
		for _, c := range m {
			fmt.Fprintf(&mb, "%d\n%d\n", c.Off, len(c.Data))
		}
		data = append(Pad(mb.Bytes()), data...)
		name = "GNUSparseFile.0/" + s.Name
	default:
		return nil, fmt.Errorf("unknown PAX sparse version %q", version)
	}
	out := PAXHeader("PaxHeaders.0/"+s.Name, recs)
	h := Hdr{Name: name, Mode: s.Mode, Size: int64(len(data)), MTime: s.MTime, Typeflag: tar.TypeReg}
	out = append(out, h.Block()...)
	return append(out, Pad(data)...), nil
}

func min(a, b int) int {
	if a < b {
		return a
	}
	return b
}
