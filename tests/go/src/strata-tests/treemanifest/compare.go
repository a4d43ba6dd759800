package main

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// line is one parsed manifest line: path and its fields in order.
type line struct {
	keys   []string
	fields map[string]string
}

func parseLine(s string) (string, line, error) {
	p, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", line{}, fmt.Errorf("bad path in %q", s)
	}
	path, _ := strconv.Unquote(p)
	l := line{fields: map[string]string{}}
	rest := s[len(p):]
	for rest != "" {
		rest = strings.TrimPrefix(rest, " ")
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return "", line{}, fmt.Errorf("bad field in %q", s)
		}
		k := rest[:eq]
		rest = rest[eq+1:]
		var v string
		if strings.HasPrefix(rest, "\"") {
			if v, err = strconv.QuotedPrefix(rest); err != nil {
				return "", line{}, fmt.Errorf("bad quoted value in %q", s)
			}
		} else if sp := strings.IndexByte(rest, ' '); sp >= 0 {
			v = rest[:sp]
		} else {
			v = rest
		}
		rest = rest[len(v):]
		l.keys = append(l.keys, k)
		l.fields[k] = v
	}
	return path, l, nil
}

func readManifest(name string) (map[string]line, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]line{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if sc.Text() == "" {
			continue
		}
		p, l, err := parseLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		m[p] = l
	}
	return m, sc.Err()
}

// compareManifests prints the differences and returns the exit status.
func compareManifests(refName, gotName, lowerName string) int {
	ref, err := readManifest(refName)
	if err != nil {
		fmt.Fprintf(os.Stderr, "treemanifest: %v\n", err)
		return 2
	}
	got, err := readManifest(gotName)
	if err != nil {
		fmt.Fprintf(os.Stderr, "treemanifest: %v\n", err)
		return 2
	}
	lower := map[string]line{}
	if lowerName != "" {
		if lower, err = readManifest(lowerName); err != nil {
			fmt.Fprintf(os.Stderr, "treemanifest: %v\n", err)
			return 2
		}
	}
	paths := map[string]bool{}
	for p := range ref {
		paths[p] = true
	}
	for p := range got {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	ndiff := 0
	for _, p := range sorted {
		r, inRef := ref[p]
		g, inGot := got[p]
		switch {
		case !inGot:
			fmt.Printf("only in reference: %s\n", strconv.Quote(p))
			ndiff++
			continue
		case !inRef:
			fmt.Printf("only in result:    %s\n", strconv.Quote(p))
			ndiff++
			continue
		}
		keys := map[string]bool{}
		var order []string
		for _, k := range append(append([]string{}, r.keys...), g.keys...) {
			if !keys[k] {
				keys[k] = true
				order = append(order, k)
			}
		}
		var diffs []string
		for _, k := range order {
			rv, gv := r.fields[k], g.fields[k]
			if rv == gv {
				continue
			}
			if k == "mtime" && rv == "recent" {
				if l, ok := lower[p]; ok && l.fields["mtime"] == gv {
					continue
				}
			}
			diffs = append(diffs, fmt.Sprintf("%s: %s (reference) vs %s (result)", k, orNone(rv), orNone(gv)))
		}
		if len(diffs) > 0 {
			fmt.Printf("differs: %s: %s\n", strconv.Quote(p), strings.Join(diffs, "; "))
			ndiff++
		}
	}
	if ndiff > 0 {
		fmt.Printf("%d of %d paths differ\n", ndiff, len(sorted))
		return 1
	}
	return 0
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
