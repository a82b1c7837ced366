//go:build !linux

package main

import "os/exec"

// inNamespaces reports that namespaces are Linux only.
func inNamespaces(*exec.Cmd) bool { return false }

// processCPU is not measured off Linux.
func processCPU() float64 { return 0 }
