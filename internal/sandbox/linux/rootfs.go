//go:build linux

package linux

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The sandbox's file system, built by the init in its own mount namespace
// on a small tmpfs, then made the root with pivot_root:
//
//	/              tmpfs, read-only once built
//	/var/task      Spec.CodeDir, read-only overlay (hiddenRO)
//	/opt           a read-only overlay of Spec.LayerDirs (later ones win)
//	/var/runtime   Spec.RuntimeDir, read-only overlay (empty if none); a
//	               symlink at its top level to an absolute host directory
//	               (the AWS SDKs Kumo keeps beside its bootstraps) is
//	               mounted as that directory instead
//	/var/node_modules
//	               -> runtime/node_modules when the runtime has one (the
//	               AWS SDK for JavaScript) and there are no layers: ES
//	               modules in /var/task find it by Node.js's own
//	               resolution, after their own, as NODE_PATH has it
//	<host path>    each Spec.HostPaths entry, read-only bind at the same
//	               path (a symlink is recreated as the same symlink)
//	/tmp           tmpfs of EphemeralMB, mode 1777, owned by the sandbox user
//	/proc          the sandbox's pid namespace; kcore, keys, timer_list,
//	               sched_debug and sysrq-trigger masked, /proc/sys read-only
//	/dev           null zero full random urandom tty bound from the host,
//	               fd/stdin/stdout/stderr symlinks, /dev/shm a 64 MB tmpfs
//	/etc           generated passwd, group, hosts, resolv.conf (empty
//	               without Config.Network),
//	               nsswitch.conf; ssl/certs and localtime bound read-only
//	               from the host when it has them
//
// With Spec.ImageRoot (a container-image function) the image's root is
// grafted onto this root instead of CodeDir, layers and the runtime dir
// (image.go): its top-level entries, and those of its /var and /etc, are
// read-only mounts of the image's; /proc, /dev, /tmp and the generated
// /etc files stay the sandbox's own.
//
// Every mount is nosuid and nodev. The function's directories are
// overlays whose layers have neutral names, so that the sandbox's
// /proc/self/mountinfo shows no host path of the server's data dir (a bind
// mount shows its source's path). Nothing is mounted in the host's mount
// namespace, so nothing needs unmounting when a sandbox dies: its mount
// namespace goes away with its last process.

// Paths the driver owns in the sandbox; HostPaths may not touch them.
var reservedPaths = []string{"/var/task", "/opt", "/var/runtime", "/tmp", "/proc", "/dev", "/sys", "/etc"}

// generated files in /etc, and host files bound into /etc.
var etcFiles = []string{"passwd", "group", "hosts", "resolv.conf", "nsswitch.conf", "localtime", "ssl/certs"}

var devices = []string{"null", "zero", "full", "random", "urandom", "tty"}

var procMasks = []string{"kcore", "keys", "timer_list", "sched_debug", "sysrq-trigger"}

const sandboxHostname = "sandbox"

// checkPaths validates the host paths of a spec before anything starts.
func checkPaths(s *initSpec) error {
	if s.ImageRoot != "" && (len(s.LayerDirs) > 0 || s.RuntimeDir != "" || len(s.HostPaths) > 0) {
		return errors.New("linux: an image root comes with no layers, runtime dir or host paths")
	}
	for _, d := range append([]string{s.CodeDir, s.RuntimeDir, s.ImageRoot}, s.LayerDirs...) {
		if d != "" && !filepath.IsAbs(d) {
			return fmt.Errorf("linux: %q is not an absolute path", d)
		}
	}
	for _, l := range s.LayerDirs {
		if strings.ContainsAny(l, ":,\\") {
			return fmt.Errorf("linux: layer dir %q: ':', ',' and '\\' are not supported", l)
		}
	}
	for _, p := range s.HostPaths {
		if !filepath.IsAbs(p) || filepath.Clean(p) != p || p == "/" {
			return fmt.Errorf("linux: host path %q: want a clean absolute path other than /", p)
		}
		for _, r := range reservedPaths {
			if r == "/etc" {
				if p == r {
					return fmt.Errorf("linux: host path %q: the sandbox has its own /etc", p)
				}
				for _, f := range etcFiles {
					if f := "/etc/" + f; p == f || strings.HasPrefix(f, p+"/") || strings.HasPrefix(p, f+"/") {
						return fmt.Errorf("linux: host path %q: %s is the sandbox's own", p, f)
					}
				}
				continue
			}
			if p == r || strings.HasPrefix(p, r+"/") || strings.HasPrefix(r, p+"/") {
				return fmt.Errorf("linux: host path %q overlaps %s, which the sandbox has its own of", p, r)
			}
		}
	}
	return nil
}

// prepareRoot builds, on c.Root, what does not depend on the function:
// the root tmpfs, /proc, /dev and /etc. It runs in the init, in the new
// mount namespace, as root.
func prepareRoot(c *initConfig) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	r := c.Root
	if err := mount("tmpfs", r, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=1m,nr_inodes=4096,mode=0755"); err != nil {
		return err
	}
	for _, d := range []string{"var", "var/task", "var/runtime", "opt", "tmp", "proc", "dev", "etc"} {
		if err := os.Mkdir(filepath.Join(r, d), 0o755); err != nil {
			return err
		}
	}
	if err := procFS(r); err != nil {
		return err
	}
	if err := devFS(r); err != nil {
		return err
	}
	return etc(c)
}

// finishRoot adds the function's files and /tmp to the root prepareRoot
// made, makes it read-only and pivots into it.
func finishRoot(c *initConfig, s *initSpec) error {
	r := c.Root
	if s.ImageRoot != "" {
		if err := imageRoot(r, s.ImageRoot); err != nil {
			return err
		}
	} else if err := hiddenRO(r, []string{s.CodeDir}, r+"/var/task"); err != nil {
		return err
	}
	if len(s.LayerDirs) > 0 {
		if err := hiddenRO(r, s.LayerDirs, r+"/opt"); err != nil {
			return err
		}
	}
	if s.RuntimeDir != "" {
		if err := runtimeDir(r, s.RuntimeDir, r+"/var/runtime", len(s.LayerDirs) == 0); err != nil {
			return err
		}
	}
	if err := hostPaths(r, s.HostPaths); err != nil {
		return err
	}
	if err := mount("tmpfs", r+"/tmp", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV,
		fmt.Sprintf("size=%dm,mode=1777,uid=%d,gid=%d", s.EphemeralMB, c.UID, c.GID)); err != nil {
		return err
	}
	if err := unix.Mount("", r, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("making the root read-only: %w", err)
	}
	return pivot(r)
}

// hiddenRO makes dirs visible read-only at dst without naming them in
// the sandbox's mount table (overlayRO). Where overlayfs cannot serve (a
// kernel without it, a directory on a file system it cannot stack on), a
// single dir is bound instead, as before: the sandbox then sees its path.
func hiddenRO(r string, dirs []string, dst string) error {
	err := overlayRO(r, dirs, dst)
	if err != nil && len(dirs) == 1 && (errors.Is(err, unix.ENODEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ELOOP)) {
		return bindRO(dirs[0], dst)
	}
	return err
}

// stageDir is where overlayRO stages the layers of an overlay, in the
// root tmpfs; it is gone before the runtime starts.
const stageDir = "/.stage"

// overlayRO mounts dirs read-only at dst as an overlay (later ones win)
// whose options name its layers by neutral relative names: a bind mount
// would show the host path of its source in the sandbox's
// /proc/self/mountinfo, and an overlay the paths it was given. Each dir
// is bound in a staging directory of the root r, the overlay made from
// there with relative lowerdirs (an empty one added: an overlay without
// an upper dir needs two), and the staging binds detached again: the
// overlay keeps its own private references to its layers' mounts.
func overlayRO(r string, dirs []string, dst string) (err error) {
	stage := r + stageDir
	if err := os.Mkdir(stage, 0o700); err != nil {
		return fmt.Errorf("overlay staging dir: %w", err)
	}
	var names, bound []string
	defer func() {
		for _, b := range bound {
			if uerr := unix.Unmount(b, unix.MNT_DETACH); uerr != nil && err == nil {
				err = fmt.Errorf("detaching %s: %w", b, uerr)
			}
		}
		if rerr := os.RemoveAll(stage); rerr != nil && err == nil {
			err = fmt.Errorf("overlay staging dir: %w", rerr)
		}
	}()
	// overlayfs: the first lowerdir is the top one.
	for i := len(dirs) - 1; i >= 0; i-- {
		name := "l" + strconv.Itoa(len(names))
		if err := os.Mkdir(stage+"/"+name, 0o755); err != nil {
			return err
		}
		if err := mount(dirs[i], stage+"/"+name, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return err
		}
		bound = append(bound, stage+"/"+name)
		names = append(names, name)
	}
	if len(names) == 1 {
		// An empty tmpfs, not a directory of the root: a lower layer
		// must stay while the overlay lives, and the stage goes.
		if err := os.Mkdir(stage+"/empty", 0o755); err != nil {
			return err
		}
		if err := mount("tmpfs", stage+"/empty", "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC,
			"size=4k,nr_inodes=1,mode=0755"); err != nil {
			return err
		}
		bound = append(bound, stage+"/empty")
		names = append(names, "empty")
	}
	wd, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := unix.Chdir(stage); err != nil {
		return err
	}
	merr := unix.Mount("overlay", dst, "overlay", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV,
		"lowerdir="+strings.Join(names, ":"))
	if err := unix.Chdir(wd); err != nil {
		return err
	}
	if merr != nil {
		return fmt.Errorf("mount overlay of %q on %s: %w", dirs, dst, merr)
	}
	return nil
}

// runtimeDir mounts dir read-only at target (an empty directory of the
// root), its host path hidden as hiddenRO does: whole when no entry of it
// is a symlink, else entry by entry, each symlink to an absolute
// directory mounted as that directory, so that the sandbox sees
// one tree where the host keeps the SDKs apart. With linkModules, a
// node_modules in it is linked from target's parent too
// (/var/node_modules), where Node.js looks for the packages a module in
// /var/task imports after /var/task/node_modules: without layers, that is
// the order NODE_PATH gives CommonJS and Lambda gives ES modules, which
// then need no resolution hooks (a layer's packages must come first, so
// with layers the runtime resolves ES modules itself).
func runtimeDir(r, dir, target string, linkModules bool) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("runtime dir: %w", err)
	}
	if linkModules && slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Name() == "node_modules" }) {
		if err := os.Symlink("runtime/node_modules", filepath.Join(filepath.Dir(target), "node_modules")); err != nil {
			return fmt.Errorf("runtime dir: %w", err)
		}
	}
	if !slices.ContainsFunc(entries, func(e os.DirEntry) bool { return e.Type()&os.ModeSymlink != 0 }) {
		return hiddenRO(r, []string{dir}, target)
	}
	for _, e := range entries {
		src := filepath.Join(dir, e.Name())
		if e.Type()&os.ModeSymlink != 0 {
			dest, err := os.Readlink(src)
			if err != nil {
				return fmt.Errorf("runtime dir: %w", err)
			}
			if !filepath.IsAbs(dest) {
				return fmt.Errorf("runtime dir: %s -> %s: want an absolute path", src, dest)
			}
			src = dest
		}
		fi, err := os.Stat(src)
		if err != nil {
			return fmt.Errorf("runtime dir: %w", err)
		}
		dst := filepath.Join(target, e.Name())
		if fi.IsDir() {
			err = os.Mkdir(dst, 0o755)
		} else {
			err = touch(dst)
		}
		if err != nil {
			return fmt.Errorf("runtime dir: %w", err)
		}
		mnt := func() error { return bindRO(src, dst) }
		if fi.IsDir() {
			mnt = func() error { return hiddenRO(r, []string{src}, dst) }
		}
		if err := mnt(); err != nil {
			return err
		}
	}
	return nil
}

func hostPaths(r string, paths []string) error {
	paths = slices.Clone(paths)
	slices.Sort(paths) // parents before children
	var links []string
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("host path: %w", err)
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			links = append(links, p)
			continue
		}
		target := r + p
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("host path %s: %w", p, err)
		}
		if fi.IsDir() {
			err = os.Mkdir(target, 0o755)
		} else {
			err = touch(target)
		}
		if err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("host path %s: %w", p, err)
		}
		if err := bindRO(p, target); err != nil {
			return err
		}
	}
	// Symlinks last, so that no directory above is created through one.
	for _, p := range links {
		dest, err := os.Readlink(p)
		if err != nil {
			return fmt.Errorf("host path: %w", err)
		}
		target := r + p
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return fmt.Errorf("host path %s: %w", p, err)
		}
		if err := os.Symlink(dest, target); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("host path %s: %w", p, err)
		}
	}
	return nil
}

func procFS(r string) error {
	proc := r + "/proc"
	if err := mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return err
	}
	for _, m := range procMasks {
		if _, err := os.Lstat(proc + "/" + m); err != nil {
			continue
		}
		if err := mount("/dev/null", proc+"/"+m, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	return bindRO(proc+"/sys", proc+"/sys")
}

func devFS(r string) error {
	dev := r + "/dev"
	if err := mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_NOEXEC, "size=64k,nr_inodes=64,mode=0755"); err != nil {
		return err
	}
	for _, d := range devices {
		if _, err := os.Stat("/dev/" + d); err != nil {
			continue // the host has none to give
		}
		if err := touch(dev + "/" + d); err != nil {
			return err
		}
		if err := mount("/dev/"+d, dev+"/"+d, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	for name, dest := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(dest, dev+"/"+name); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dev+"/shm", 0o755); err != nil {
		return err
	}
	if err := mount("tmpfs", dev+"/shm", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "size=64m,mode=1777"); err != nil {
		return err
	}
	if err := unix.Mount("", dev, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("making /dev read-only: %w", err)
	}
	return nil
}

func etc(c *initConfig) error {
	r := c.Root
	uid, gid := strconv.Itoa(c.UID), strconv.Itoa(c.GID)
	files := map[string]string{
		"passwd": "root:x:0:0:root:/root:/sbin/nologin\n" +
			"sbx_user1051:x:" + uid + ":" + gid + "::/tmp:/sbin/nologin\n",
		"group":         "root:x:0:\nsbx_user1051:x:" + gid + ":\n",
		"hosts":         "127.0.0.1\tlocalhost " + sandboxHostname + " sandbox.localdomain\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		"resolv.conf":   c.ResolvConf,
		"nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
	}
	for name, content := range files {
		if err := os.WriteFile(r+"/etc/"+name, []byte(content), 0o644); err != nil {
			return err
		}
	}
	if fi, err := os.Stat("/etc/ssl/certs"); err == nil && fi.IsDir() {
		if err := os.MkdirAll(r+"/etc/ssl/certs", 0o755); err != nil {
			return err
		}
		if err := bindRO("/etc/ssl/certs", r+"/etc/ssl/certs"); err != nil {
			return err
		}
	}
	if fi, err := os.Stat("/etc/localtime"); err == nil && fi.Mode().IsRegular() {
		if err := touch(r + "/etc/localtime"); err != nil {
			return err
		}
		if err := bindRO("/etc/localtime", r+"/etc/localtime"); err != nil {
			return err
		}
	}
	return nil
}

// pivot makes r the root and detaches the old one (the way runc does,
// without a directory for the old root).
func pivot(r string) error {
	oldRoot, err := unix.Open("/", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(oldRoot)
	if err := unix.Chdir(r); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	// The old root is now stacked on top of the new one at "/".
	if err := unix.Fchdir(oldRoot); err != nil {
		return err
	}
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("old root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	return unix.Chdir("/")
}

func mount(source, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s on %s: %w", source, target, err)
	}
	return nil
}

// bindRO binds src (recursively) at dst and makes the whole tree
// read-only, nosuid and nodev.
func bindRO(src, dst string) error {
	if err := mount(src, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	err := unix.MountSetattr(unix.AT_FDCWD, dst, unix.AT_RECURSIVE, &attr)
	if err == unix.ENOSYS { // before Linux 5.12: the top mount only
		err = unix.Mount("", dst, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, "")
	}
	if err != nil {
		return fmt.Errorf("making %s read-only: %w", path.Clean(dst), err)
	}
	return nil
}

func touch(name string) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}
