//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package natsd

import "syscall"

// statfs returns the size of the file system holding dir and the bytes
// available on it to an unprivileged writer.
func statfs(dir string) (total, free uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	bs := uint64(st.Bsize)
	return uint64(st.Blocks) * bs, uint64(st.Bavail) * bs, nil
}
