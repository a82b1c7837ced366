//go:build linux

package linux

import (
	"encoding/json"
	"syscall"
)

// The driver and a sandbox's init talk over a SOCK_SEQPACKET socket pair
// (fd 3 in the init), one JSON message per packet, in this order:
//
//	driver → init  config     written before the init starts
//	init → driver  listener   the Runtime API socket as SCM_RIGHTS, once
//	                          the parts of the root that do not depend on
//	                          the function are built
//	driver → init  spec       once the init is in the sandbox's cgroups
//	               (or prestart, then spec: snapshot.go)
//	init → driver  started    the runtime runs (Pid), or
//	               failed     the sandbox could not be set up (Error)
//	init → driver  exit       the runtime exited (Status); sent by the
//	                          C PID 1 when there is one (doc.go)
//
// after which the init exits. Nothing from inside the sandbox but the init
// writes to this socket.
type message struct {
	Kind   string      `json:"kind"`
	Config *initConfig `json:"config,omitempty"`
	Spec   *initSpec   `json:"spec,omitempty"`
	Pid    int         `json:"pid,omitempty"`
	Error  string      `json:"error,omitempty"`
	Status uint32      `json:"status,omitempty"` // a wait status
	// Took is how long the init's part of a snapshot's spec took (ns,
	// in started).
	Took int64 `json:"took,omitempty"`
}

const (
	msgConfig   = "config"
	msgListener = "listener"
	msgSpec     = "spec"
	msgStarted  = "started"
	msgFailed   = "failed"
	msgExit     = "exit"
)

// maxMessage bounds one message (a spec carries Env, at most 4 KB in
// Lambda, and the paths).
const maxMessage = 1 << 20

// initConfig is what every sandbox of a driver has in common.
type initConfig struct {
	// Root is the empty host directory the new root is mounted on, in
	// the sandbox's own mount namespace.
	Root string `json:"root"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	// ResolvConf is /etc/resolv.conf (empty without a network).
	ResolvConf string `json:"resolv_conf,omitempty"`
	// Cgroup names the sandbox's cgroups, so that the init can remove
	// them itself if the server dies (abandon).
	Cgroup *initCgroup `json:"cgroup,omitempty"`
}

// initCgroup is where a sandbox's cgroups are: Name in each of Parents
// (one per hierarchy), whose roots are Roots.
type initCgroup struct {
	Name    string   `json:"name"`
	Parents []string `json:"parents"`
	Roots   []string `json:"roots"`
}

// initSpec is what the init needs to finish and run one sandbox.
type initSpec struct {
	CodeDir     string   `json:"code_dir"`
	ImageRoot   string   `json:"image_root,omitempty"`
	LayerDirs   []string `json:"layer_dirs,omitempty"`
	RuntimeDir  string   `json:"runtime_dir,omitempty"`
	HostPaths   []string `json:"host_paths,omitempty"`
	Args        []string `json:"args"`
	Env         []string `json:"env"`
	Dir         string   `json:"dir"`
	EphemeralMB int      `json:"ephemeral_mb"`
	// HasLayers stands for LayerDirs in a prestart (snapshot.go), which
	// has none yet.
	HasLayers bool `json:"has_layers,omitempty"`
	// stdin is the runtime's standard input in the init (-1 or 0:
	// /dev/null).
	stdin int
}

func encode(m message) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // only plain fields: cannot happen
	}
	return b
}

// exitMessage reports the runtime's wait status.
func exitMessage(ws syscall.WaitStatus) message {
	return message{Kind: msgExit, Status: uint32(ws)}
}
