//go:build linux && cgo

package linux

/*
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

static volatile sig_atomic_t pending[NSIG];
static volatile sig_atomic_t any_pending;

static char cg_name[256];
static int cg_parents[MAX_CGROUPS], cg_roots[MAX_CGROUPS];
static int n_parents, n_roots;
static pid_t runtime_pid;

static void on_signal(int sig) {
	pending[sig] = 1;
	any_pending = 1;
}

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

// forward acts on the signals that arrived: the server's death abandons
// the sandbox, the others go to the runtime once it runs.
static void forward(void) {
	if (!any_pending)
		return;
	any_pending = 0;
	if (pending[SIGUSR2])
		abandon();
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		if (!pending[sigs[i]])
			continue;
		if (runtime_pid <= 0) {
			any_pending = 1; // kept for the runtime
			continue;
		}
		pending[sigs[i]] = 0;
		kill(runtime_pid, sigs[i]);
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
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
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
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; // no SA_RESTART: waits return EINTR
	sigfillset(&sa.sa_mask);
	static const int handled[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR2};
	for (size_t i = 0; i < sizeof handled / sizeof handled[0]; i++)
		sigaction(handled[i], &sa, NULL);
	sigprocmask(SIG_SETMASK, &old, NULL);

	while (receive(sp[0]))
		forward();
	close(sp[0]);
	for (;;) {
		forward();
		int ws;
		pid_t w = waitpid(-1, &ws, 0);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			_exit(1); // nothing left, and no runtime seen to exit
		}
		if (w == child && runtime_pid <= 0) {
			// The Go init ended before the runtime ran: it has said why.
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
}
*/
import "C"

// reaperFD is the Go init's end of its socket to the C PID 1 that forked
// it, or -1 when the Go init is PID 1 itself.
func reaperFD() int { return int(C.kumo_reaper_fd) }

// cReaper: sandboxes get a C PID 1.
const cReaper = true
