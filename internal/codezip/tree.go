package codezip

import (
	"strings"
)

const (
	// maxName bounds an entry's name and a symlink's target. Lambda sets no
	// such limit, but every path must still open once the root is prefixed
	// (PATH_MAX is 4096), and real packages stay far below it.
	maxName = 1024
	// maxComponent is NAME_MAX: the longest file name Linux file systems
	// take.
	maxComponent = 255
	// maxLinkBytes bounds the symlink targets held in memory at once.
	maxLinkBytes = 4 << 20
	// maxHops is how many symlinks one resolution may follow, as Linux
	// allows (MAXSYMLINKS).
	maxHops = 40
	// maxLinkSteps bounds the work of resolving every symlink in a zip;
	// real packages need a few steps per link.
	maxLinkSteps = 1 << 22
)

type nodeKind uint8

const (
	kindDir nodeKind = iota + 1
	kindFile
	kindSymlink
)

// A node is one path of the unpacked package: a directory (declared by an
// entry or implied by a deeper path), a regular file or a symlink.
type node struct {
	kind     nodeKind
	path     string // slash-separated, relative to the root; "" for the root
	parent   *node  // nil for the root
	children map[string]*node
	entry    int    // index in zip.Reader.File of a file or symlink
	exec     bool   // files: any x bit set in the zip
	target   string // symlinks
}

// A tree is the package as it would be unpacked, built from the central
// directory before any file is written.
type tree struct {
	root  node
	nodes int // every node but the root
	max   int
	dirs  []*node // parents before children
	files []*node
	links []*node
}

func newTree(maxNodes int) *tree {
	return &tree{max: maxNodes}
}

// cleanName checks an entry's name and returns it without "." components,
// doubled slashes or a trailing slash, and whether the name marks a
// directory. The root itself comes back as "".
func cleanName(name string) (clean string, dir bool, err *Error) {
	switch {
	case name == "":
		return "", false, refuse(Invalid, name, "an entry has an empty name")
	case len(name) > maxName:
		return "", false, refuse(Invalid, name, "entry %s has a name longer than %d bytes", quote(name), maxName)
	}
	if err := checkPath(name, name, "entry"); err != nil {
		return "", false, err
	}
	dir = strings.HasSuffix(name, "/")
	tidy := true
	for rest := name; rest != ""; {
		c, r, _ := strings.Cut(rest, "/")
		rest = r
		switch {
		case c == "" || c == ".":
			tidy = false
		case c == "..":
			return "", false, refuse(Unsafe, name, "entry %s leaves the package root through \"..\"", quote(name))
		case len(c) > maxComponent:
			return "", false, refuse(Invalid, name, "entry %s has a path element longer than %d bytes", quote(name), maxComponent)
		}
	}
	if tidy {
		return strings.TrimSuffix(name, "/"), dir, nil
	}
	var b strings.Builder
	for rest := name; rest != ""; {
		c, r, _ := strings.Cut(rest, "/")
		rest = r
		if c == "" || c == "." {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(c)
	}
	return b.String(), dir, nil
}

// checkPath refuses what no path in a package may hold: NUL bytes, Windows
// separators and drive letters, absolute paths. what names the path's role
// in the message ("entry", "symlink ... target").
func checkPath(p, entry, what string) *Error {
	switch {
	case strings.IndexByte(p, 0) >= 0:
		return refuse(Unsafe, entry, "%s %s contains a NUL byte", what, quote(p))
	case strings.IndexByte(p, '\\') >= 0:
		return refuse(Unsafe, entry, "%s %s contains a backslash, the Windows path separator (zip paths use forward slashes)", what, quote(p))
	case p[0] == '/':
		return refuse(Unsafe, entry, "%s %s is an absolute path", what, quote(p))
	case len(p) >= 2 && p[1] == ':' && ('a' <= p[0]|0x20 && p[0]|0x20 <= 'z'):
		return refuse(Unsafe, entry, "%s %s starts with a Windows drive letter", what, quote(p))
	}
	return nil
}

// add places an entry with a clean, non-empty path in the tree. Directories
// may repeat; any other repeated path is refused, and no entry may sit below
// a file or a symlink, whatever order the entries come in.
func (t *tree) add(name, clean string, kind nodeKind) (*node, *Error) {
	n := &t.root
	for rest := clean; ; {
		c, r, more := strings.Cut(rest, "/")
		rest = r
		child := n.children[c]
		if more {
			switch {
			case child == nil:
				p := clean[:len(clean)-len(rest)-1]
				var err *Error
				if child, err = t.newNode(n, c, p, kindDir); err != nil {
					return nil, err
				}
			case child.kind == kindFile:
				return nil, refuse(Invalid, name, "entry %s is inside %s, which is a file", quote(name), quote(child.path))
			case child.kind == kindSymlink:
				return nil, refuse(Unsafe, name, "entry %s goes through symlink %s", quote(name), quote(child.path))
			}
			n = child
			continue
		}
		if child == nil {
			return t.newNode(n, c, clean, kind)
		}
		switch {
		case child.kind == kindDir && kind == kindDir:
			return child, nil
		case child.kind == kindDir && kind == kindSymlink:
			return nil, refuse(Unsafe, name, "symlink %s has the path of a directory", quote(name))
		case child.kind == kindDir:
			return nil, refuse(Invalid, name, "entry %s is a file, but another entry makes it a directory", quote(name))
		case child.kind == kindSymlink:
			return nil, refuse(Unsafe, name, "entry %s would overwrite symlink %s", quote(name), quote(child.path))
		case kind == kindSymlink:
			return nil, refuse(Unsafe, name, "symlink %s would replace file %s", quote(name), quote(child.path))
		default:
			return nil, refuse(Invalid, name, "entry %s appears more than once", quote(name))
		}
	}
}

func (t *tree) newNode(parent *node, name, path string, kind nodeKind) (*node, *Error) {
	t.nodes++
	if t.nodes > t.max {
		return nil, tooManyEntries(t.max)
	}
	n := &node{kind: kind, path: path, parent: parent}
	if parent.children == nil {
		parent.children = make(map[string]*node)
	}
	parent.children[name] = n
	switch kind {
	case kindDir:
		t.dirs = append(t.dirs, n)
	case kindFile:
		t.files = append(t.files, n)
	case kindSymlink:
		t.links = append(t.links, n)
	}
	return n, nil
}

// checkTarget refuses a symlink target that could not stay inside the
// package whatever the tree holds.
func checkTarget(name, target string) *Error {
	switch {
	case target == "":
		return refuse(Invalid, name, "symlink %s has an empty target", quote(name))
	case len(target) > maxName:
		return refuse(Invalid, name, "symlink %s has a target longer than %d bytes", quote(name), maxName)
	}
	return checkPath(target, name, "symlink "+quote(name)+" target")
}

// checkLinks resolves every symlink the way the kernel will once the tree is
// on disk — following symlinks met on the way, each relative to its own
// directory — and refuses any that would step above the root at any point.
// Every target has passed checkTarget.
func (t *tree) checkLinks() *Error {
	steps := 0
	var pending []string
	for _, l := range t.links {
		pending = pushPath(pending[:0], l.target)
		cur, ghost, hops := l.parent, 0, 0
		// cur is the directory reached so far; ghost counts the path
		// elements walked below it that the tree does not hold as
		// directories (the kernel would stop there; we keep walking
		// lexically, which only refuses more).
		for len(pending) > 0 {
			if steps++; steps > maxLinkSteps {
				return refuse(Unsafe, l.path, "symlinks nest too deeply to check (at %s)", quote(l.path))
			}
			c := pending[len(pending)-1]
			pending = pending[:len(pending)-1]
			switch {
			case c == "" || c == ".":
				continue
			case c == "..":
				switch {
				case ghost > 0:
					ghost--
				case cur.parent == nil:
					return refuse(Unsafe, l.path, "symlink %s points outside the package (target %s)", quote(l.path), quote(l.target))
				default:
					cur = cur.parent
				}
				continue
			case ghost > 0:
				ghost++
				continue
			}
			child := cur.children[c]
			switch {
			case child == nil || child.kind == kindFile:
				ghost = 1
			case child.kind == kindDir:
				cur = child
			default:
				if hops++; hops > maxHops {
					return refuse(Unsafe, l.path, "symlink %s is part of a symlink loop or a chain of more than %d symlinks", quote(l.path), maxHops)
				}
				pending = pushPath(pending, child.target)
			}
		}
	}
	return nil
}

// pushPath pushes p's elements on a stack so that the first element is on
// top.
func pushPath(stack []string, p string) []string {
	n := strings.Count(p, "/") + 1
	start := len(stack)
	for range n {
		stack = append(stack, "")
	}
	i := len(stack) - 1
	for rest := p; i >= start; i-- {
		c, r, _ := strings.Cut(rest, "/")
		stack[i] = c
		rest = r
	}
	return stack
}
