// treemanifest prints a deterministic manifest of a directory tree, one line
// per entry sorted by path, so that two trees written by different extractors
// (containerd's archive.Apply and strata's extract worker) can be compared
// with diff.  Nothing is followed: every entry is lstat'ed, symlinks are
// reported by their target.
//
// Line format (fields separated by one space, strings Go-quoted):
//
//	"/PATH" type=T mode=MODE uid=U gid=G [size=N sha256=HEX] [nlink=N]
//	   [inode="/FIRST"] [target="LINK"] [rdev=MAJ:MIN] [xattrs={NAME=HEX,...}] mtime=NS
//
// T is dir, file, symlink, char, block, fifo or socket; MODE is octal with the
// setuid/setgid/sticky bits; size and sha256 for regular files; nlink for
// everything but directories (directory link counts depend on the file
// system, not on the extractor); inode names the first path (in manifest
// order) that shares the entry's inode when the inode has several names in
// the tree, so hardlink groups compare by structure, not by inode number;
// xattrs lists every namespace (trusted.* too, which needs CAP_SYS_ADMIN),
// sorted by name, values in hex; mtime in nanoseconds, directories included.
// The root is "/" (omitted with -noroot).
//
// -recent-after NS prints `mtime=recent` for every mtime at or after NS (unix
// nanoseconds): containerd stamps some entries with the time of the apply
// (whiteout devices it mknods, parent directories it creates and then writes
// into), so those can only be compared as "written during the apply".
//
// Compare mode:
//
//	treemanifest -compare [-lower LOWER.manifest] REF.manifest GOT.manifest
//
// prints, per path, what is only in one manifest and which fields differ,
// and exits 1 if anything does.  A `mtime=recent` in REF (the reference, i.e.
// containerd's tree) matches `mtime=recent` in GOT, or the mtime LOWER has for
// the same path (the directory's time in the nearest lower layer, which is
// what containerd copies before its own writes overwrite it).
package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

var (
	noRoot      = flag.Bool("noroot", false, "omit the root directory's own line")
	recentAfter = flag.Int64("recent-after", 0, "print mtime=recent for mtimes at or after this unix time in ns (0: never)")
	compare     = flag.Bool("compare", false, "compare two manifests: REF GOT")
	lowerMan    = flag.String("lower", "", "with -compare: manifest of the lower tree, for mtime=recent entries")
)

type entry struct {
	path string // "/" or "/a/b"
	st   unix.Stat_t
}

func main() {
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: treemanifest [-noroot] [-recent-after NS] DIR\n"+
			"       treemanifest -compare [-lower LOWER] REF GOT\n")
		flag.PrintDefaults()
		os.Exit(2)
	}
	flag.Parse()
	if *compare {
		if flag.NArg() != 2 {
			flag.Usage()
		}
		os.Exit(compareManifests(flag.Arg(0), flag.Arg(1), *lowerMan))
	}
	if flag.NArg() != 1 {
		flag.Usage()
	}
	if err := printManifest(os.Stdout, flag.Arg(0)); err != nil {
		fmt.Fprintf(os.Stderr, "treemanifest: %v\n", err)
		os.Exit(1)
	}
}

// collect lstats every entry below root without following anything.
func collect(root string) ([]entry, error) {
	var out []entry
	var walk func(rel string) error
	walk = func(rel string) error {
		var e entry
		e.path = rel
		if err := unix.Lstat(filepath.Join(root, rel), &e.st); err != nil {
			return fmt.Errorf("lstat `%s`: %w", filepath.Join(root, rel), err)
		}
		out = append(out, e)
		if e.st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return nil
		}
		d, err := os.Open(filepath.Join(root, rel))
		if err != nil {
			return err
		}
		names, err := d.Readdirnames(-1)
		d.Close()
		if err != nil {
			return fmt.Errorf("readdir `%s`: %w", filepath.Join(root, rel), err)
		}
		for _, n := range names {
			if err := walk(filepath.Join(rel, n)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk("/"); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out, nil
}

func printManifest(w io.Writer, root string) error {
	entries, err := collect(root)
	if err != nil {
		return err
	}
	type ino struct{ dev, ino uint64 }
	first := map[ino]string{}
	bw := bufio.NewWriter(w)
	for _, e := range entries {
		if e.path == "/" && *noRoot {
			continue
		}
		full := filepath.Join(root, e.path)
		st := &e.st
		var b strings.Builder
		fmt.Fprintf(&b, "%s type=%s mode=%04o uid=%d gid=%d", strconv.Quote(e.path), typeName(st.Mode),
			st.Mode&07777, st.Uid, st.Gid)
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if st.Mode&unix.S_IFMT == unix.S_IFREG {
			sum, err := hashFile(full)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " size=%d sha256=%s", st.Size, sum)
		}
		if !isDir {
			fmt.Fprintf(&b, " nlink=%d", st.Nlink)
			if st.Nlink > 1 {
				k := ino{st.Dev, st.Ino}
				if _, ok := first[k]; !ok {
					first[k] = e.path
				}
				fmt.Fprintf(&b, " inode=%s", strconv.Quote(first[k]))
			}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			t, err := os.Readlink(full)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, " target=%s", strconv.Quote(t))
		case unix.S_IFCHR, unix.S_IFBLK:
			fmt.Fprintf(&b, " rdev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		xa, err := xattrs(full)
		if err != nil {
			return err
		}
		if xa != "" {
			fmt.Fprintf(&b, " xattrs={%s}", xa)
		}
		mt := st.Mtim.Nano()
		if *recentAfter != 0 && mt >= *recentAfter {
			b.WriteString(" mtime=recent")
		} else {
			fmt.Fprintf(&b, " mtime=%d", mt)
		}
		b.WriteByte('\n')
		if _, err := bw.WriteString(b.String()); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func typeName(m uint32) string {
	switch m & unix.S_IFMT {
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFREG:
		return "file"
	case unix.S_IFLNK:
		return "symlink"
	case unix.S_IFCHR:
		return "char"
	case unix.S_IFBLK:
		return "block"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	}
	return fmt.Sprintf("unknown-%o", m&unix.S_IFMT)
}

// hashFile opens with O_NOFOLLOW|O_NONBLOCK: the entry was lstat'ed as a
// regular file, and a swap under us must not make us follow or block.
func hashFile(path string) (string, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("open `%s`: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read `%s`: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// xattrs returns "name=hex,..." sorted by name, every namespace.
func xattrs(path string) (string, error) {
	size, err := unix.Llistxattr(path, nil)
	if err == unix.ENOTSUP || size == 0 {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("llistxattr `%s`: %w", path, err)
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(path, buf)
	if err != nil {
		return "", fmt.Errorf("llistxattr `%s`: %w", path, err)
	}
	var names []string
	for _, n := range strings.Split(string(buf[:size]), "\x00") {
		if n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		vsize, err := unix.Lgetxattr(path, n, nil)
		if err != nil {
			return "", fmt.Errorf("lgetxattr `%s` %s: %w", path, n, err)
		}
		v := make([]byte, vsize)
		if vsize > 0 {
			vsize, err = unix.Lgetxattr(path, n, v)
			if err != nil {
				return "", fmt.Errorf("lgetxattr `%s` %s: %w", path, n, err)
			}
		}
		parts = append(parts, n+"="+hex.EncodeToString(v[:vsize]))
	}
	return strings.Join(parts, ","), nil
}
