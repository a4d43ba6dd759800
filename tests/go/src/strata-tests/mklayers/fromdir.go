package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// tarDir tars a real directory deterministically (see the package comment).
// The root itself is not an entry, as in most image layers' first level.
func tarDir(root, prefix string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	type ino struct{ dev, ino uint64 }
	seen := map[ino]string{}
	prefix = strings.Trim(prefix, "/")

	var walk func(rel string) error
	walk = func(rel string) error {
		full := filepath.Join(root, rel)
		var st unix.Stat_t
		if err := unix.Lstat(full, &st); err != nil {
			return fmt.Errorf("lstat `%s`: %w", full, err)
		}
		name := rel
		if prefix != "" {
			name = prefix + "/" + rel
		}
		h := &tar.Header{
			Name:    name,
			Mode:    int64(st.Mode & 0o7777),
			Uid:     int(st.Uid),
			Gid:     int(st.Gid),
			ModTime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec),
			Format:  tar.FormatPAX,
		}
		var body []byte
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			h.Typeflag, h.Name = tar.TypeDir, h.Name+"/"
		case unix.S_IFREG:
			k := ino{st.Dev, st.Ino}
			if first, ok := seen[k]; ok && st.Nlink > 1 {
				h.Typeflag, h.Linkname = tar.TypeLink, first
				break
			}
			seen[k] = name
			h.Typeflag = tar.TypeReg
			var err error
			if body, err = os.ReadFile(full); err != nil {
				return err
			}
			h.Size = int64(len(body))
		case unix.S_IFLNK:
			t, err := os.Readlink(full)
			if err != nil {
				return err
			}
			h.Typeflag, h.Linkname = tar.TypeSymlink, t
		case unix.S_IFCHR, unix.S_IFBLK:
			h.Typeflag = tar.TypeChar
			if st.Mode&unix.S_IFMT == unix.S_IFBLK {
				h.Typeflag = tar.TypeBlock
			}
			h.Devmajor, h.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case unix.S_IFIFO:
			h.Typeflag = tar.TypeFifo
		default:
			return nil // sockets have no tar form
		}
		if err := addXattrs(h, full); err != nil {
			return err
		}
		if rel != "" {
			if err := tw.WriteHeader(h); err != nil {
				return fmt.Errorf("`%s`: %w", full, err)
			}
			if _, err := tw.Write(body); err != nil {
				return err
			}
		}
		if h.Typeflag != tar.TypeDir {
			return nil
		}
		d, err := os.Open(full)
		if err != nil {
			return err
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return err
		}
		sort.Strings(names)
		for _, n := range names {
			if err := walk(filepath.Join(rel, n)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// addXattrs records every xattr but trusted.* (which belongs to the host's
// file system, e.g. overlay's own, and which containerd refuses anyway).
func addXattrs(h *tar.Header, path string) error {
	size, err := unix.Llistxattr(path, nil)
	if err == unix.ENOTSUP || size == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("llistxattr `%s`: %w", path, err)
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(path, buf); err != nil {
		return err
	}
	for _, n := range strings.Split(string(buf[:size]), "\x00") {
		if n == "" || strings.HasPrefix(n, "trusted.") {
			continue
		}
		v := make([]byte, 64<<10)
		vs, err := unix.Lgetxattr(path, n, v)
		if err != nil {
			return fmt.Errorf("lgetxattr `%s` %s: %w", path, n, err)
		}
		if h.PAXRecords == nil {
			h.PAXRecords = map[string]string{}
		}
		h.PAXRecords["SCHILY.xattr."+n] = string(v[:vs])
	}
	return nil
}
