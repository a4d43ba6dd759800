package tarutil

import (
	"archive/tar"
	"compress/gzip"
	"io"
)

// StreamZeroFile writes to w a gzip'd tar holding one regular file of size
// zero bytes, without holding the uncompressed stream in memory: a
// decompression bomb (about 1000:1).
func StreamZeroFile(w io.Writer, name string, size int64) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(zw)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size,
		ModTime: Epoch}); err != nil {
		return err
	}
	zero := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := int64(len(zero))
		if left < n {
			n = left
		}
		if _, err := tw.Write(zero[:n]); err != nil {
			return err
		}
		left -= n
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return zw.Close()
}
