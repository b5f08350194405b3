/* privs: giving up privileges once everything that needs them is open
 * (design brief, "Privileges"; OpenBSD daemons' fixed order): the account
 * and capability decisions as pure functions, then one shell, privs_drop,
 * that changes ids, lowers capabilities, sets NO_NEW_PRIVS and optionally
 * installs the seccomp allow-list. libcap-ng and libseccomp live here only. */
#include "privs.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <libgen.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cap-ng.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>

#include "gate.h"
#include "log.h"

#define PRIVS_PWBUF 16384	/* getpwnam_r/getgrnam_r scratch */

/* The capabilities the configuration uses: CAP_NET_ADMIN to keep the
 * nftables sets (firewall nft), CAP_NET_RAW to reopen the packet capture
 * (interface). Nothing else is needed once the sockets are bound. */
uint64_t
privs_needed(const struct wk_conf *c)
{
	uint64_t keep = 0;

	if (c->firewall == FIREWALL_NFT)
		keep |= PRIVS_NET_ADMIN;
	if (c->n_interface > 0)
		keep |= PRIVS_NET_RAW;
	return keep;
}

/* Write an error message and fail. */
__attribute__((format(printf, 3, 4))) static int
privs_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vsnprintf(err, errlen, fmt, ap) < 0 && errlen > 0)
		err[0] = '\0';
	va_end(ap);
	return -1;
}

/* Decide who the daemon becomes, from the configuration, the effective
 * uid it runs with and the resolved account. Refuses root after start-up
 * unless run_as_root says so. 0, or -1 with the reason in err. */
int
privs_plan(const struct wk_conf *c, uid_t euid, const struct privs_account *a,
    struct privs_plan *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->keep = privs_needed(c);
	out->uid = euid;
	if (c->user[0] == '\0') {
		if (c->group[0] != '\0')
			return privs_fail(err, errlen, "group %s: set user as well "
			    "(group alone changes nothing)", c->group);
		if (euid == 0 && !c->run_as_root)
			return privs_fail(err, errlen, "started as root with no user: "
			    "set user (for example 'user wicket') to run unprivileged, "
			    "or 'run_as_root yes' to keep running as root");
		return 0;
	}
	if (!a->have_user)
		return privs_fail(err, errlen, "user %s: no such user", c->user);
	if (c->group[0] != '\0' && !a->have_group)
		return privs_fail(err, errlen, "group %s: no such group", c->group);
	out->uid = a->uid;
	out->gid = c->group[0] != '\0' ? a->gid : a->user_gid;
	if (out->uid == 0 && !c->run_as_root)
		return privs_fail(err, errlen, "user %s is root: name an "
		    "unprivileged user, or set 'run_as_root yes'", c->user);
	if (euid == 0) {
		out->change_id = out->uid != 0;
		return 0;
	}
	if (euid != out->uid)
		return privs_fail(err, errlen, "user %s (uid %u): cannot switch "
		    "from uid %u without root", c->user, (unsigned)out->uid,
		    (unsigned)euid);
	return 0;
}

/* True when uid/gid may create and rename entries in the directory st
 * describes, by its mode bits as the kernel checks them (owner bits for
 * the owner, else group bits for the group, else the others'); ACLs are
 * not considered. */
bool
privs_dir_writable(const struct stat *dir, uid_t uid, gid_t gid)
{
	mode_t need;

	if (uid == 0)
		return true;
	if (!S_ISDIR(dir->st_mode))
		return false;
	if (dir->st_uid == uid)
		need = S_IWUSR | S_IXUSR;
	else if (dir->st_gid == gid)
		need = S_IWGRP | S_IXGRP;
	else
		need = S_IWOTH | S_IXOTH;
	return (dir->st_mode & need) == need;
}

/* True when uid/gid may read the file st describes, by its mode bits as
 * the kernel checks them (the owner's, else the group's, else the
 * others'); ACLs are not considered. */
bool
privs_file_readable(const struct stat *st, uid_t uid, gid_t gid)
{
	if (uid == 0)
		return true;
	if (st->st_uid == uid)
		return (st->st_mode & S_IRUSR) != 0;
	if (st->st_gid == gid)
		return (st->st_mode & S_IRGRP) != 0;
	return (st->st_mode & S_IROTH) != 0;
}

/* The files a reload reads again must stay readable after the drop, or
 * every later reload is refused: say so at start, by name. */
static void
privs_warn_unreadable(const struct wk_conf *c, const struct privs_plan *p)
{
	const struct {
		const char *key, *path;
	} files[] = {
		{ "grant_key", c->grant_key }, { "splash_terms", c->splash_terms },
		{ "splash_template", c->splash_template }, { "tls_cert", c->tls_cert },
		{ "tls_key", c->tls_key },
	};
	struct stat st;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (files[i].path[0] != '\0' && stat(files[i].path, &st) == 0 &&
		    !privs_file_readable(&st, p->uid, p->gid))
			log_warn("%s %s is not readable by user %s: a reload will be "
			    "refused until it is (chown or chgrp it)", files[i].key,
			    files[i].path, c->user);
}

/* Look up user and group with the reentrant calls. */
static void
privs_lookup(const struct wk_conf *c, struct privs_account *a)
{
	static char buf[PRIVS_PWBUF];
	struct passwd pw, *pwp = NULL;
	struct group gr, *grp = NULL;

	memset(a, 0, sizeof(*a));
	if (c->user[0] != '\0' && getpwnam_r(c->user, &pw, buf, sizeof(buf), &pwp) == 0 &&
	    pwp != NULL) {
		a->have_user = true;
		a->uid = pw.pw_uid;
		a->user_gid = pw.pw_gid;
	}
	if (c->group[0] != '\0' && getgrnam_r(c->group, &gr, buf, sizeof(buf), &grp) == 0 &&
	    grp != NULL) {
		a->have_group = true;
		a->gid = gr.gr_gid;
	}
}

/* What `wicketd -n` can check whoever runs it: user and group exist, and
 * group is not given alone. 0, or -1 with the reason. */
int
privs_check(const struct wk_conf *c, char *err, size_t errlen)
{
	struct privs_account a;
	struct privs_plan p;

	privs_lookup(c, &a);
	/* as a non-root user that is the configured one, the plan checks
	 * exactly the names; the uid test cannot fail */
	return privs_plan(c, a.have_user ? a.uid : 1, &a, &p, err, errlen);
}

/* The directory of path must let the new user create and rename files in
 * it (a rotated audit log is created anew; the state file is compacted by
 * rename). 0, or -1 with the reason. */
static int
privs_check_dir(const char *what, const char *path, const struct privs_plan *p,
    const char *user, char *err, size_t errlen)
{
	char copy[CONF_PATH];
	struct stat st;
	const char *dir;

	snprintf(copy, sizeof(copy), "%s", path);
	dir = dirname(copy);
	if (stat(dir, &st) < 0)
		return privs_fail(err, errlen, "%s %s: directory %s: %s", what, path,
		    dir, strerror(errno));
	if (!privs_dir_writable(&st, p->uid, p->gid))
		return privs_fail(err, errlen, "%s %s: directory %s is not writable "
		    "by user %s (uid %u, gid %u); chown it to that user "
		    "(tmpfiles.d/wicket.conf does for the default paths)", what, path,
		    dir, user, (unsigned)p->uid, (unsigned)p->gid);
	return 0;
}

/* Hand a file the daemon opened as root to the new user, so that it can
 * open it again (SIGHUP without rotation, a restart under systemd). A
 * symbolic link is left alone, never followed. */
static int
privs_chown(const char *path, const struct privs_plan *p, char *err, size_t errlen)
{
	if (fchownat(AT_FDCWD, path, p->uid, p->gid, AT_SYMLINK_NOFOLLOW) == 0 ||
	    errno == ENOENT)
		return 0;
	return privs_fail(err, errlen, "chown %s to uid %u: %s", path,
	    (unsigned)p->uid, strerror(errno));
}

/* Check the writable directories and hand over the files: the audit log,
 * the state file, its lock and its reserve (grant.c and store.c keep
 * STATE.lock and STATE.reserve beside it), and
 * the control socket (so that the daemon can remove it at exit). */
static int
privs_prepare_files(const struct wk_conf *c, const struct privs_plan *p,
    char *err, size_t errlen)
{
	char lock[CONF_PATH + 8], reserve[CONF_PATH + 16];
	bool audit_file = c->audit_log[0] != '\0' && strcmp(c->audit_log, "-") != 0;

	if (audit_file && privs_check_dir("audit_log", c->audit_log, p, c->user,
	    err, errlen) < 0)
		return -1;
	if (c->state_file[0] != '\0' && privs_check_dir("state_file",
	    c->state_file, p, c->user, err, errlen) < 0)
		return -1;
	if (c->control_socket[0] != '\0' && privs_check_dir("control_socket",
	    c->control_socket, p, c->user, err, errlen) < 0) {
		/* the socket still serves; only its removal at exit fails */
		log_warn("%s; the socket will be left behind at exit", err);
		err[0] = '\0';
	}
	snprintf(lock, sizeof(lock), "%s.lock", c->state_file);
	/* store.c's room for compaction on a full disk, STATE.reserve */
	snprintf(reserve, sizeof(reserve), "%s.reserve", c->state_file);
	if ((audit_file && privs_chown(c->audit_log, p, err, errlen) < 0) ||
	    (c->state_file[0] != '\0' && (privs_chown(c->state_file, p, err, errlen) < 0 ||
	    privs_chown(lock, p, err, errlen) < 0 ||
	    privs_chown(reserve, p, err, errlen) < 0)) ||
	    (c->control_socket[0] != '\0' && privs_chown(c->control_socket, p, err,
	    errlen) < 0))
		return -1;
	return 0;
}

/* Fill libcap-ng's state with exactly the capabilities in keep, in the
 * effective and permitted sets and (when bounds) the bounding set. */
static void
privs_caps_stage(uint64_t keep, bool bounds)
{
	capng_type_t sets = CAPNG_EFFECTIVE | CAPNG_PERMITTED;

	capng_clear(bounds ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS);
	if (bounds)
		sets |= CAPNG_BOUNDING_SET;
	if (keep & PRIVS_NET_ADMIN)
		capng_update(CAPNG_ADD, sets, CAP_NET_ADMIN);
	if (keep & PRIVS_NET_RAW)
		capng_update(CAPNG_ADD, sets, CAP_NET_RAW);
}

/* As root: shrink the bounding set while CAP_SETPCAP is still there,
 * change groups and ids keeping the permitted set across the change
 * (PR_SET_KEEPCAPS), then lower effective and permitted to keep. */
static int
privs_change_id(const struct privs_plan *p, char *err, size_t errlen)
{
	privs_caps_stage(p->keep, true);
	if (capng_apply(CAPNG_SELECT_BOUNDS) != 0)
		return privs_fail(err, errlen, "cannot shrink the capability "
		    "bounding set");
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) < 0)
		return privs_fail(err, errlen, "PR_SET_KEEPCAPS: %s", strerror(errno));
	if (setgroups(0, NULL) < 0)
		return privs_fail(err, errlen, "setgroups: %s", strerror(errno));
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return privs_fail(err, errlen, "setresgid %u: %s", (unsigned)p->gid,
		    strerror(errno));
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return privs_fail(err, errlen, "setresuid %u: %s", (unsigned)p->uid,
		    strerror(errno));
	if (capng_apply(CAPNG_SELECT_CAPS) != 0)
		return privs_fail(err, errlen, "cannot set the capabilities after "
		    "the change of user");
	if (prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L) < 0)
		return privs_fail(err, errlen, "PR_SET_KEEPCAPS: %s", strerror(errno));
	return 0;
}

/* Without a change of user: drop every capability not in keep from what
 * the process holds (a supervisor may have given more), and the bounding
 * set too when CAP_SETPCAP allows it (root with run_as_root). */
static int
privs_lower(const struct privs_plan *p, char *err, size_t errlen)
{
	uint64_t have = 0;
	bool setpcap;

	capng_get_caps_process();
	setpcap = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP) != 0;
	if (capng_have_capability(CAPNG_PERMITTED, CAP_NET_ADMIN))
		have |= PRIVS_NET_ADMIN;
	if (capng_have_capability(CAPNG_PERMITTED, CAP_NET_RAW))
		have |= PRIVS_NET_RAW;
	if (setpcap) {
		privs_caps_stage(p->keep & have, true);
		if (capng_apply(CAPNG_SELECT_BOUNDS) != 0)
			return privs_fail(err, errlen, "cannot shrink the capability "
			    "bounding set");
	}
	privs_caps_stage(p->keep & have, false);
	if (capng_apply(CAPNG_SELECT_CAPS) != 0)
		return privs_fail(err, errlen, "cannot lower the capabilities: %s",
		    strerror(errno));
	return 0;
}

/* After the drop nothing may bring root back: regaining uid 0 must fail
 * (OpenBSD's check), and the ids must be the planned ones. */
static int
privs_verify(const struct privs_plan *p, char *err, size_t errlen)
{
	uid_t r, e, s;

	if (getresuid(&r, &e, &s) < 0 || r != p->uid || e != p->uid || s != p->uid)
		return privs_fail(err, errlen, "ids are not uid %u after the drop",
		    (unsigned)p->uid);
	if (p->uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		return privs_fail(err, errlen, "root could be regained after the drop");
	return 0;
}

/* Name the kept capabilities for the log. */
static const char *
privs_keep_name(uint64_t keep)
{
	if ((keep & PRIVS_NET_ADMIN) && (keep & PRIVS_NET_RAW))
		return "CAP_NET_ADMIN CAP_NET_RAW";
	if (keep & PRIVS_NET_ADMIN)
		return "CAP_NET_ADMIN";
	if (keep & PRIVS_NET_RAW)
		return "CAP_NET_RAW";
	return "none";
}

/* Capabilities, the bounding set and NO_NEW_PRIVS belong to a thread, so
 * the drop must happen while the daemon is one thread: a worker started
 * earlier would keep what the main thread gives up. -1 if not. */
static int
privs_single_threaded(char *err, size_t errlen)
{
	char line[128];
	FILE *f = fopen("/proc/self/status", "re");
	long n = -1;

	if (f == NULL)
		return 0; /* no /proc: nothing to check with */
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "Threads: %ld", &n) == 1)
			break;
	fclose(f);
	if (n > 1)
		return privs_fail(err, errlen, "%ld threads are running: the "
		    "privilege drop must come before any thread is started", n);
	return 0;
}

/* Give up what start-up needed: call once, after the listeners, the
 * capture, the nftables handle, the control socket, the state file and
 * the audit log are open. 0, or -1 (logged) and the daemon must exit. */
int
privs_drop(struct gate *g)
{
	const struct wk_conf *c = g->conf;
	struct privs_account a;
	struct privs_plan p;
	char err[1024];

	err[0] = '\0';
	privs_lookup(c, &a);
	if (privs_plan(c, geteuid(), &a, &p, err, sizeof(err)) < 0 ||
	    privs_single_threaded(err, sizeof(err)) < 0)
		goto fail;
	if (p.change_id) {
		privs_warn_unreadable(c, &p);
		if (privs_prepare_files(c, &p, err, sizeof(err)) < 0 ||
		    privs_change_id(&p, err, sizeof(err)) < 0)
			goto fail;
	} else if (privs_lower(&p, err, sizeof(err)) < 0) {
		goto fail;
	}
	/* ambient capabilities only matter across execve, which wicketd
	 * never does; clear them so that nothing is inherited anyway */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L) < 0 &&
	    errno != EINVAL) {
		privs_fail(err, sizeof(err), "clearing ambient capabilities: %s",
		    strerror(errno));
		goto fail;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L) < 0) {
		privs_fail(err, sizeof(err), "PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		goto fail;
	}
	if (privs_verify(&p, err, sizeof(err)) < 0)
		goto fail;
	if (c->seccomp && privs_seccomp_install(err, sizeof(err)) < 0)
		goto fail;
	log_info("privileges: uid %u gid %u, capabilities %s, no_new_privs%s",
	    (unsigned)geteuid(), (unsigned)getegid(), privs_keep_name(p.keep),
	    c->seccomp ? ", seccomp" : "");
	return 0;
fail:
	log_err("privileges: %s", err[0] ? err : "cannot drop privileges");
	return -1;
}

/* The system calls the running daemon makes, by what needs them. Measured
 * with strace over the e2e suites (docs/security.md, "seccomp") and kept
 * by kind rather than to the letter, so that a library's equivalent call
 * (stat vs newfstatat) does not kill the daemon. Everything else -- execve,
 * fork, ptrace, mount, setuid, module loading, kexec, bpf... -- is refused. */
static const char *const privs_syscalls[] = {
	/* memory */
	"brk", "mmap", "munmap", "mremap", "mprotect", "madvise",
	/* files: audit log, state file (journal, compaction by rename), key,
	 * terms and certificate reloads, /etc/resolv.conf, nft's own files */
	"openat", "open", "close", "read", "write", "readv", "writev", "pread64",
	"pwrite64", "lseek", "fstat", "newfstatat", "statx", "stat", "lstat",
	"fsync", "fdatasync", "ftruncate", "fallocate", "fstatfs", "statfs",
	"rename", "renameat", "renameat2",
	"unlink", "unlinkat", "fcntl", "flock", "getdents64", "readlink",
	"readlinkat", "access", "faccessat", "faccessat2", "umask", "fchmod",
	/* sockets: clients, upstreams, control, DNS, netlink (nft, neighbour
	 * dumps), the packet capture and its reopening, syslog */
	"socket", "socketpair", "bind", "listen", "connect", "accept", "accept4",
	"getsockname", "getpeername", "getsockopt", "setsockopt", "sendto",
	"recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
	"ioctl",
	/* the event loop and the relay */
	"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"poll", "ppoll", "select", "pselect6", "eventfd2", "pipe", "pipe2",
	"splice", "tee", "timerfd_create", "timerfd_settime", "timerfd_gettime",
	/* signals */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
	"tgkill", "getpid", "gettid",
	/* time */
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep",
	"clock_nanosleep",
	/* worker threads (blocking libraries) */
	"futex", "set_robust_list", "get_robust_list", "rseq", "set_tid_address",
	"sched_yield", "sched_getaffinity", "exit", "exit_group", "restart_syscall",
	"membarrier",
	/* libraries asking about the process */
	"getrandom", "uname", "sysinfo", "getuid", "geteuid", "getgid", "getegid",
	"getresuid", "getresgid", "getgroups", "getcwd", "prlimit64", "getrlimit",
	"capget",
};

/* What sanitizer builds add: LeakSanitizer stops the world with a cloned
 * tracer at exit, and reports run the symbolizer. Test builds only. */
#if defined(__SANITIZE_ADDRESS__)
#define PRIVS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PRIVS_SANITIZER 1
#endif
#endif
#ifdef PRIVS_SANITIZER
static const char *const privs_syscalls_san[] = {
	"clone", "clone3", "ptrace", "wait4", "waitid", "prctl", "kill", "execve",
	"fork", "vfork", "dup", "dup2", "dup3", "sched_getparam", "getppid",
	"personality", "process_vm_readv", "getdents",
};
#endif

/* SIGSYS from the filter: say which call was refused (async-signal-safe
 * writes only) and exit, instead of dying without a word. */
static void
privs_on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	char msg[96] = "wicketd: seccomp: refused system call ";
	size_t n = strlen(msg);
	char num[16];
	int k = 0, nr = si->si_syscall;

	(void)sig;
	(void)ctx;
	if (nr < 0)
		nr = 0;
	do
		num[k++] = (char)('0' + nr % 10);
	while ((nr /= 10) > 0 && k < (int)sizeof(num));
	while (k > 0 && n < sizeof(msg) - 2)
		msg[n++] = num[--k];
	msg[n++] = '\n';
	if (write(STDERR_FILENO, msg, n) < 0)
		_exit(70);
	_exit(70);
}

/* Install the allow-list: a call outside it raises SIGSYS (reported, then
 * exit); clone only for threads (CLONE_THREAD), clone3 answers ENOSYS so
 * that the C library falls back to clone, whose flags can be checked. */
int
privs_seccomp_install(char *err, size_t errlen)
{
	struct sigaction sa;
	scmp_filter_ctx ctx;
	int rc = -1;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = privs_on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	if (sigemptyset(&sa.sa_mask) < 0 || sigaction(SIGSYS, &sa, NULL) < 0)
		return privs_fail(err, errlen, "seccomp: sigaction: %s", strerror(errno));
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (ctx == NULL)
		return privs_fail(err, errlen, "seccomp: cannot create a filter");
	for (size_t i = 0; i < sizeof(privs_syscalls) / sizeof(privs_syscalls[0]); i++) {
		int nr = seccomp_syscall_resolve_name(privs_syscalls[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not a call of this architecture */
		if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0) {
			privs_fail(err, errlen, "seccomp: cannot allow %s", privs_syscalls[i]);
			goto out;
		}
	}
#ifdef PRIVS_SANITIZER
	for (size_t i = 0; i < sizeof(privs_syscalls_san) / sizeof(privs_syscalls_san[0]); i++) {
		int nr = seccomp_syscall_resolve_name(privs_syscalls_san[i]);
		if (nr != __NR_SCMP_ERROR && seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0) {
			privs_fail(err, errlen, "seccomp: cannot allow %s", privs_syscalls_san[i]);
			goto out;
		}
	}
#else
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	    SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)) < 0 ||
	    seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) < 0) {
		privs_fail(err, errlen, "seccomp: cannot add the clone rules");
		goto out;
	}
#endif
	if (seccomp_load(ctx) < 0) {
		privs_fail(err, errlen, "seccomp: cannot load the filter: %s",
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	seccomp_release(ctx);
	return rc;
}
