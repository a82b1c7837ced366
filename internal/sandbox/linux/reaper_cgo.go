//go:build linux && cgo

package linux

/*
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// The sandbox's PID 1, in C (doc.go). It runs as a constructor,
// before the Go runtime starts, in a process started as the init
// (argv[0] kumo-sandbox-init, PID 1 of its namespaces, with the driver's
// go-ahead pipe as fd 4). It waits for the go-ahead (the driver has put it
// in the sandbox's cgroups), forks the Go init, which returns from here
// and does all the setup, and stays behind to reap and to report the
// runtime's exit.

#define REAPER_FD 4
#define CTRL_FD 3
#define ABANDON_EXIT 112
#define MAX_CGROUPS 32

int kumo_reaper_fd = -1;

// Signals for the runtime that arrived before it ran.
static int pending[NSIG];

static char cg_name[256];
static int cg_parents[MAX_CGROUPS], cg_roots[MAX_CGROUPS];
static int n_parents, n_roots;
static pid_t runtime_pid;

static void write_at(int dir, const char *path, const char *value) {
	int fd = openat(dir, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (write(fd, value, strlen(value)) < 0) {
		// nothing more to do: the sandbox is being abandoned
	}
	close(fd);
}

// abandon is the Go init's abandon (init.go), once the Go init is gone.
static void abandon(void) {
	static const char *const quota[][2] = {
		{"cpu.cfs_quota_us", "-1"}, {"cpu.shares", "1024"}, // v1
		{"cpu.max", "max"}, {"cpu.weight", "100"},           // v2
	};
	char path[512];
	for (int i = 0; i < n_parents; i++)
		for (size_t j = 0; j < sizeof quota / sizeof quota[0]; j++) {
			snprintf(path, sizeof path, "%s/%s", cg_name, quota[j][0]);
			write_at(cg_parents[i], path, quota[j][1]);
		}
	kill(-1, SIGKILL);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	for (int i = 0; i < n_roots; i++)
		write_at(cg_roots[i], "cgroup.procs", "0");
	struct timespec ms = {0, 1000000};
	for (int i = 0; i < n_parents; i++)
		for (int tries = 0; tries < 30000; tries++) { // 30 s
			if (unlinkat(cg_parents[i], cg_name, AT_REMOVEDIR) == 0 || errno != EBUSY)
				break;
			nanosleep(&ms, NULL);
		}
	_exit(1);
}

// forward sends the signals kept for the runtime once it runs.
static void forward(void) {
	if (runtime_pid <= 0)
		return;
	for (int sig = 1; sig < NSIG; sig++)
		if (pending[sig]) {
			pending[sig] = 0;
			kill(runtime_pid, sig);
		}
}

// receive reads one message of the Go init: "p<pid>", the runtime's pid,
// or "c<n>:<name>", the cgroups' name with the descriptors of the n parent
// directories and then of the hierarchies' roots. It returns 0 at the end
// (or on an error), 1 otherwise.
static int receive(int fd) {
	char buf[320];
	union {
		char buf[CMSG_SPACE(sizeof(int) * 2 * MAX_CGROUPS)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {buf, sizeof buf - 1};
	struct msghdr mh;
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof ctl.buf;
	ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
	if (n < 0 && errno == EINTR)
		return 1;
	if (n <= 0)
		return 0;
	buf[n] = 0;
	int fds[2 * MAX_CGROUPS], nfds = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (int i = 0; i < k && nfds < 2 * MAX_CGROUPS; i++)
			memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	int np;
	char *colon = strchr(buf, ':');
	if (buf[0] == 'p') {
		runtime_pid = atoi(buf + 1);
	} else if (buf[0] == 'c' && colon && n_parents == 0 && (np = atoi(buf + 1)) > 0 &&
		   np <= nfds && np <= MAX_CGROUPS && nfds - np <= MAX_CGROUPS &&
		   strlen(colon + 1) < sizeof cg_name) {
		strcpy(cg_name, colon + 1);
		for (int i = 0; i < nfds; i++) {
			if (i < np)
				cg_parents[n_parents++] = fds[i];
			else
				cg_roots[n_roots++] = fds[i];
		}
		nfds = 0;
	}
	for (int i = 0; i < nfds; i++)
		close(fds[i]);
	return 1;
}

static int exit_code(int ws) {
	return WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : WEXITSTATUS(ws);
}

__attribute__((constructor)) static void kumo_sandbox_reaper(int argc, char **argv) {
	struct stat st;
	if (argc != 1 || strcmp(argv[0], "kumo-sandbox-init") != 0 || getpid() != 1 ||
	    fstat(REAPER_FD, &st) != 0 || !S_ISFIFO(st.st_mode))
		return;
	char b;
	ssize_t n;
	do
		n = read(REAPER_FD, &b, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(1); // the driver gave up on the sandbox
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
		_exit(1);
	// The signals PID 1 acts on are blocked and read from a signalfd, so
	// none can arrive between a check and a wait: the server's death
	// (the parent-death signal), those it forwards, and SIGCHLD.
	sigset_t mask, old;
	sigemptyset(&mask);
	static const int handled[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR2, SIGCHLD};
	for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++)
		sigaddset(&mask, handled[i]);
	sigprocmask(SIG_BLOCK, &mask, &old);
	pid_t child = fork();
	if (child < 0)
		_exit(1);
	if (child == 0) {
		if (dup2(sp[1], REAPER_FD) < 0)
			_exit(1);
		close(sp[0]);
		close(sp[1]);
		kumo_reaper_fd = REAPER_FD;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return;
	}
	close(sp[1]);
	close(REAPER_FD);
	// Nothing in the sandbox may read or trace the init's memory.
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		kill(child, SIGKILL);
		_exit(1);
	}
	int sock = sp[0];
	for (;;) {
		struct pollfd p[2] = {{sfd, POLLIN, 0}, {sock, POLLIN, 0}};
		if (poll(p, sock >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			abandon();
		}
		if (sock >= 0 && p[1].revents && !receive(sock)) {
			close(sock);
			sock = -1;
		}
		if (p[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) == sizeof si) {
				if (si.ssi_signo == SIGUSR2)
					abandon();
				if (si.ssi_signo != SIGCHLD)
					pending[si.ssi_signo] = 1;
			}
		}
		forward();
		int ws;
		pid_t w;
		while ((w = waitpid(-1, &ws, WNOHANG)) > 0) {
			if (w == child && runtime_pid <= 0) {
				// The Go init has exited; what it sent before is
				// still to be read.
				while (sock >= 0 && receive(sock))
					;
				if (runtime_pid > 0) {
					forward();
					continue;
				}
				// It ended before the runtime ran, and has said why.
				if (WIFEXITED(ws) && WEXITSTATUS(ws) == ABANDON_EXIT)
					abandon();
				_exit(exit_code(ws));
			}
			if (w != runtime_pid)
				continue; // the Go init, or an orphan
			char msg[64];
			int len = snprintf(msg, sizeof msg, "{\"kind\":\"exit\",\"status\":%u}", (unsigned)ws);
			while (send(CTRL_FD, msg, len, MSG_NOSIGNAL) < 0)
				if (errno != EINTR)
					abandon();
			// Exiting ends the namespace: the kernel kills what is left.
			_exit(exit_code(ws));
		}
		if (w < 0 && errno == ECHILD && sock < 0)
			_exit(1); // nothing left, and no runtime seen to exit
	}
}
*/
import "C"

// reaperFD is the Go init's end of its socket to the C PID 1 that forked
// it, or -1 when the Go init is PID 1 itself.
func reaperFD() int { return int(C.kumo_reaper_fd) }

// cReaper: sandboxes get a C PID 1.
const cReaper = true

// The C side's numbers are the Go side's: these fail to compile otherwise.
var (
	_ = [1]int{}[C.ABANDON_EXIT-abandonExit]
	_ = [1]int{}[C.REAPER_FD-goAheadFD]
	_ = [1]int{}[C.CTRL_FD-ctrlFD]
)
