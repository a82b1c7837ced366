//go:build linux

package linux

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// A container image's root is grafted onto the sandbox's root entry by
// entry, read-only, since the root tmpfs already holds what a warm
// sandbox prepared (/proc, /dev, /etc): each top-level directory of the
// image is mounted over (or as) the root's directory of that name the
// way hiddenRO mounts code, each file bound, each symlink recreated. The
// image's /var and /etc are grafted one level down, so that the image's
// /var/task, /var/runtime, /var/lang and its /etc files appear beside
// the driver's own /etc files (passwd, group, hosts, resolv.conf,
// nsswitch.conf, localtime, ssl/certs: the sandbox's, not the image's);
// /proc, /dev, /sys and /tmp are the driver's.

// imageSkip are top-level entries of an image that the sandbox has its
// own of.
var imageSkip = map[string]bool{"proc": true, "dev": true, "sys": true, "tmp": true}

func imageRoot(r, img string) error {
	entries, err := os.ReadDir(img)
	if err != nil {
		return fmt.Errorf("image root: %w", err)
	}
	for _, e := range entries {
		n := e.Name()
		switch {
		case imageSkip[n]:
		case (n == "var" || n == "etc") && e.IsDir():
			sub, err := os.ReadDir(filepath.Join(img, n))
			if err != nil {
				return fmt.Errorf("image root: %w", err)
			}
			for _, se := range sub {
				if n == "etc" && etcOwn(se.Name()) {
					continue
				}
				if err := graft(r, filepath.Join(img, n, se.Name()), filepath.Join(r, n, se.Name())); err != nil {
					return err
				}
			}
		default:
			if err := graft(r, filepath.Join(img, n), filepath.Join(r, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// etcOwn reports whether the sandbox's /etc has its own entry name.
func etcOwn(name string) bool {
	for _, f := range etcFiles {
		if f == name || filepath.Dir(f) == name {
			return true
		}
	}
	return false
}

// graft makes src (in the image) visible read-only at dst (in the root).
func graft(r, src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("image root: %w", err)
	}
	switch {
	case fi.Mode()&os.ModeSymlink != 0:
		target, err := os.Readlink(src)
		if err != nil {
			return fmt.Errorf("image root: %w", err)
		}
		if err := os.Symlink(target, dst); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("image root: %w", err)
		}
		return nil
	case fi.IsDir():
		if err := os.Mkdir(dst, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("image root: %w", err)
		}
		return hiddenRO(r, []string{src}, dst)
	case fi.Mode().IsRegular():
		if err := touch(dst); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("image root: %w", err)
		}
		return bindRO(src, dst)
	}
	return nil // nothing else is unpacked into an image root
}
