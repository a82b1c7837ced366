//go:build !linux

package base

// fionread is the ioctl that counts the bytes waiting in a pipe
// (FIONREAD on the BSDs and macOS).
const fionread = 0x4004667f
