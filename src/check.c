/* check.c: child processes for validators and checks.  A check is generated
 * code run by a person's approval: it runs in a box (check.h) with no API
 * key, no terminal, resource limits and a time limit, and its whole session
 * is killed when the limit passes. */
#define _GNU_SOURCE /* unshare, pipe2, the CLONE_ flags */
#include "check.h"
#include "hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int check_secret_env(const char *name)
{
	static const char *const prefixes[] = {"ANTHROPIC_", "OPENAI_", "MPBUILD_REMOTE_TOKEN"};
	size_t n = strcspn(name, "="), i;

	if (n >= 8 && strncmp(name + n - 8, "_API_KEY", 8) == 0)
		return 1;
	if (n >= 6 && strncmp(name + n - 6, "_TOKEN", 6) == 0)
		return 1;
	for (i = 0; i < LEN(prefixes); i++)
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	return 0;
}

char **check_argv(const struct argv *v, const char *file)
{
	char **a = xcalloc(v->c + 1, sizeof(*a));
	size_t i;

	/* one pass over the word as written: a {rules} inside the file's own
	 * name is not expanded */
	for (i = 0; i < v->c; i++) {
		struct buffer w = {0};
		const char *s;
		int filed = 0;

		for (s = v->v[i]; *s; ) {
			if (!filed && strncmp(s, "{file}", 6) == 0) {
				buf_puts(&w, file);
				filed = 1;
				s += 6;
			} else if (strncmp(s, "{rules}", 7) == 0) {
				buf_puts(&w, plan_builtin_rules());
				s += 7;
			} else {
				buf_putc(&w, *s++);
			}
		}
		a[i] = w.data ? buf_take(&w) : xstrdup("");
	}
	return a;
}

void check_argv_free(char **argv)
{
	size_t i;

	for (i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* ---- boxes ---- */

struct box {
	char *root;             /* the project, as realpath gives it */
	char *scratch;          /* a directory of our own under $TMPDIR, removed by box_close */
	char *top;              /* where candidates go: the overlay's upper layer, or the copy */
	char *work;             /* the overlay's work directory */
	int ns;                 /* commands get namespaces */
	int overlay;            /* the project is an overlay over top, else top is a copy */
	struct sandbox_limits lim;
};

/* what the probe found on this machine, once per process */
static struct {
	int ns;                 /* namespaces work */
	int overlay;            /* an overlay of the project works inside them */
	pthread_once_t once;
	const char *root;       /* the project the probe uses, while it runs */
	int probed;             /* the probe has run */
} iso = {0, 0, PTHREAD_ONCE_INIT, NULL, 0};

/* what a child reports on its error pipe before it execs */
struct child_err {
	int step;               /* a STEP_ value */
	int err;                /* errno */
};

enum { STEP_EXEC, STEP_UNSHARE, STEP_MAPS, STEP_FORK, STEP_MOUNT_PRIVATE, STEP_OVERLAY, STEP_CHDIR };

static const char *const step_names[] = {"exec", "unshare", "uid_map", "fork", "mount --make-rprivate /",
					 "overlay mount", "chdir"};

/* everything the child needs, prepared before fork (a child of a threaded
 * process calls only async-signal-safe functions) */
struct child_plan {
	const struct box *b;
	char *const *argv;
	char **env;             /* environ without secrets, TMPDIR in the box */
	char *tmpdir;           /* the TMPDIR= entry, owned */
	char uid_map[64], gid_map[64];
	char *ovl_opts;         /* overlay mount options */
	const char *dir;        /* the directory the command runs in */
	int probe;              /* set up, then exit 0 instead of exec */
	int outfd, errfd;
	int stderrfd;           /* where the command's stderr goes; -1: outfd */
};

static NORETURN void report(int errfd, int step, int err)
{
	struct child_err ce = {step, err};

	if (write(errfd, &ce, sizeof(ce)) < 0)
		_exit(126);
	_exit(126);
}

static int write_proc(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

/* the loopback interface of a new network namespace starts down: a check may
 * still talk to a server it starts on 127.0.0.1 */
static void loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, "lo", 3);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		ioctl(fd, SIOCSIFFLAGS, &ifr);
	}
	close(fd);
}

/* wait for pid and leave with its status (a signal is raised again) */
static NORETURN void pass_status(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		kill(getpid(), WTERMSIG(status));
		_exit(128 + WTERMSIG(status));
	}
	_exit(WEXITSTATUS(status));
}

/* in the child: enter the namespaces; the process that returns is PID 1 of
 * the new PID namespace, with the project mounted and in cp->dir */
static void enter_ns(const struct child_plan *cp)
{
	int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
	pid_t pid;

	if (!cp->b->lim.network)
		flags |= CLONE_NEWNET;
	if (unshare(flags) < 0)
		report(cp->errfd, STEP_UNSHARE, errno);
	write_proc("/proc/self/setgroups", "deny");
	if (write_proc("/proc/self/uid_map", cp->uid_map) < 0 || write_proc("/proc/self/gid_map", cp->gid_map) < 0)
		report(cp->errfd, STEP_MAPS, errno);
	pid = fork();
	if (pid < 0)
		report(cp->errfd, STEP_FORK, errno);
	if (pid > 0) {
		/* the first process stays outside the new PID namespace and waits */
		close(cp->errfd);
		close(cp->outfd);
		if (cp->stderrfd >= 0)
			close(cp->stderrfd);
		close(1);
		close(2);
		pass_status(pid);
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		report(cp->errfd, STEP_MOUNT_PRIVATE, errno);
	if (cp->b->overlay && mount("overlay", cp->b->root, "overlay", 0, cp->ovl_opts) < 0)
		report(cp->errfd, STEP_OVERLAY, errno);
	if (chdir(cp->dir) < 0)
		report(cp->errfd, STEP_CHDIR, errno);
	/* a /proc of its own: no other process, so no other environment, is seen;
	 * where proc cannot be mounted, an empty one hides the old */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		mount("tmpfs", "/proc", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=555");
	if (!cp->b->lim.network)
		loopback_up();
}

static void set_limit(int what, rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(what, &rl) == 0 && rl.rlim_max != RLIM_INFINITY && want > rl.rlim_max)
		want = rl.rlim_max;
	rl.rlim_cur = rl.rlim_max = want;
	setrlimit(what, &rl);
}

static NORETURN void child(const struct child_plan *cp)
{
	const struct sandbox_limits *l = &cp->b->lim;
	int fd = open("/dev/null", O_RDONLY);
	struct rlimit cpu;

	setsid();
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (fd >= 0)
		dup2(fd, 0);
	dup2(cp->outfd, 1);
	dup2(cp->stderrfd >= 0 ? cp->stderrfd : cp->outfd, 2);
	if (cp->b->ns)
		enter_ns(cp);
	else if (chdir(cp->dir) < 0)
		report(cp->errfd, STEP_CHDIR, errno);
	if (cp->probe)
		_exit(0);
	set_limit(RLIMIT_CORE, 0);
	set_limit(RLIMIT_AS, (rlim_t)l->memory_mb << 20);
	set_limit(RLIMIT_FSIZE, (rlim_t)l->file_size_mb << 20);
	set_limit(RLIMIT_NPROC, (rlim_t)l->processes);
	set_limit(RLIMIT_NOFILE, (rlim_t)l->open_files);
	/* SIGXCPU at the soft limit, SIGKILL a little later */
	cpu.rlim_cur = (rlim_t)l->cpu_seconds;
	cpu.rlim_max = (rlim_t)l->cpu_seconds + 5;
	setrlimit(RLIMIT_CPU, &cpu);
	environ = cp->env;
	execvp(cp->argv[0], cp->argv);
	report(cp->errfd, STEP_EXEC, errno);
	_exit(126);
}

/* environ less the variables that may hold a secret, and with tmpdir (a
 * "TMPDIR=..." entry) for TMPDIR; the strings are borrowed */
static char **clean_env(char *tmpdir)
{
	char **env;
	size_t n = 0, i;

	for (i = 0; environ[i]; i++)
		n++;
	env = xcalloc(n + 2, sizeof(*env));
	for (i = 0, n = 0; environ[i]; i++)
		if (!check_secret_env(environ[i]) && strncmp(environ[i], "TMPDIR=", 7) != 0)
			env[n++] = environ[i];
	env[n] = tmpdir;
	return env;
}

/* start cp's child; its pid, or -1 */
static pid_t spawn(struct child_plan *cp, int pipefd[2], int errfd[2])
{
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(errfd, O_CLOEXEC) < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	cp->outfd = pipefd[1];
	cp->errfd = errfd[1];
	pid = fork();
	if (pid == 0)
		child(cp);
	close(pipefd[1]);
	close(errfd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		close(errfd[0]);
	}
	return pid;
}

/* the overlay's options for b: NULL when a path holds a character they cannot */
static char *overlay_opts(const struct box *b)
{
	if (strpbrk(b->root, ",:\\") || strpbrk(b->top, ",:\\") || strpbrk(b->work, ",:\\"))
		return NULL;
	return xasprintf("lowerdir=%s,upperdir=%s,workdir=%s", b->root, b->top, b->work);
}

static void plan_child(struct child_plan *cp, const struct box *b, char *const argv[])
{
	memset(cp, 0, sizeof(*cp));
	cp->stderrfd = -1;
	cp->b = b;
	cp->argv = argv;
	/* temporary files of the commands go to the box and go with it */
	cp->tmpdir = xasprintf("TMPDIR=%s/tmp", b->scratch);
	cp->env = clean_env(cp->tmpdir);
	snprintf(cp->uid_map, sizeof(cp->uid_map), "0 %ld 1", (long)getuid());
	snprintf(cp->gid_map, sizeof(cp->gid_map), "0 %ld 1", (long)getgid());
	cp->ovl_opts = b->overlay ? overlay_opts(b) : NULL;
	cp->dir = b->overlay ? b->root : b->top;
}

/* try a box's set-up in a child: -1 with the failed step in *ce */
static int try_setup(const struct box *b, struct child_err *ce)
{
	struct child_plan cp;
	int pipefd[2], errfd[2], status = 0, rc = 0;
	pid_t pid;

	plan_child(&cp, b, NULL);
	cp.probe = 1;
	if (b->overlay && !cp.ovl_opts) {
		*ce = (struct child_err){STEP_OVERLAY, EINVAL};
		free(cp.env);
		free(cp.tmpdir);
		return -1;
	}
	pid = spawn(&cp, pipefd, errfd);
	if (pid < 0) {
		*ce = (struct child_err){STEP_FORK, errno};
		rc = -1;
	} else {
		if (read(errfd[0], ce, sizeof(*ce)) == (ssize_t)sizeof(*ce))
			rc = -1;
		close(errfd[0]);
		close(pipefd[0]);
		waitpid(pid, &status, 0);
	}
	free(cp.env);
	free(cp.tmpdir);
	free(cp.ovl_opts);
	return rc;
}

static void remove_tree(int dir, const char *name);

/* the scratch directories of boxes whose mpbuild was killed */
static void sweep_boxes(void)
{
	const char *tmpdir = getenv("TMPDIR");
	int dir = open(tmpdir && *tmpdir ? tmpdir : "/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dir >= 0 ? fdopendir(dir) : NULL;
	struct dirent *de;

	if (!d) {
		if (dir >= 0)
			close(dir);
		return;
	}
	while ((de = readdir(d))) {
		char *end;
		long pid;

		if (strncmp(de->d_name, "mpbuild-box.", 12) != 0)
			continue;
		pid = strtol(de->d_name + 12, &end, 10);
		if (*end == '.' && pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH)
			remove_tree(dirfd(d), de->d_name);
	}
	closedir(d);
}

static void probe(void)
{
	struct box *b;
	struct child_err ce = {0, 0};
	const char *force = getenv("MPBUILD_SANDBOX");
	struct sandbox_limits lim = {0, 60, 64, 1, 16, 64};

	if (force && !strcmp(force, "copy")) {
		warn("checks run without namespaces (MPBUILD_SANDBOX=copy): they can see other processes, use the "
		     "network and write outside the project; the project is copied for each target's checks");
		return;
	}
	iso.ns = iso.overlay = 1;
	b = box_open(iso.root, &lim);
	if (!b) {
		iso.ns = iso.overlay = 0;
		return;
	}
	if (try_setup(b, &ce) == 0) {
		box_close(b);
		return;
	}
	box_close(b);
	if (ce.step == STEP_OVERLAY || ce.step == STEP_CHDIR) {
		iso.overlay = 0;
		warn("checks see a copy of the project: an overlay of it cannot be mounted (%s: %s)",
		     step_names[ce.step], strerror(ce.err));
		return;
	}
	iso.ns = iso.overlay = 0;
	warn("checks run without namespaces (%s: %s): they can see other processes, use the network and write "
	     "outside the project; the project is copied for each target's checks",
	     step_names[ce.step < (int)LEN(step_names) ? ce.step : 0], strerror(ce.err));
}

/* copy the directory tree of from into to (both open directories); the
 * project's cache/ and .git/ stay out (top is set at the first level) */
static int copy_tree(int from, int to, int top)
{
	DIR *d = fdopendir(from);
	struct dirent *de;
	int rc = 0;

	if (!d) {
		close(from);
		return -1;
	}
	while (rc == 0 && (de = readdir(d))) {
		const char *n = de->d_name;
		struct stat sb;

		if (!strcmp(n, ".") || !strcmp(n, "..") || (top && (!strcmp(n, "cache") || !strcmp(n, ".git"))))
			continue;
		if (fstatat(dirfd(d), n, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			int sub = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), dst;

			if (sub < 0)
				continue;
			if (mkdirat(to, n, 0700) < 0 || (dst = openat(to, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
				close(sub);
				rc = -1;
				break;
			}
			rc = copy_tree(sub, dst, 0);
			fchmod(dst, sb.st_mode & 07777);
			close(dst);
		} else if (S_ISLNK(sb.st_mode)) {
			char lnk[PATH_MAX];
			ssize_t len = readlinkat(dirfd(d), n, lnk, sizeof(lnk) - 1);

			if (len >= 0) {
				lnk[len] = '\0';
				symlinkat(lnk, to, n);
			}
		} else if (S_ISREG(sb.st_mode)) {
			int in = openat(dirfd(d), n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), out;
			char buf[65536];
			ssize_t r;

			if (in < 0)
				continue;
			out = openat(to, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, sb.st_mode & 0777);
			if (out < 0) {
				close(in);
				rc = -1;
				break;
			}
			while ((r = read(in, buf, sizeof(buf))) > 0)
				if (write(out, buf, (size_t)r) != r) {
					rc = -1;
					break;
				}
			close(in);
			close(out);
		}
	}
	closedir(d);
	return rc;
}

/* remove the tree at name in dir (a directory our boxes made: an overlay's
 * work directory may have been left without permissions) */
static void remove_tree(int dir, const char *name)
{
	int fd;
	DIR *d;
	struct dirent *de;

	if (unlinkat(dir, name, 0) == 0 || errno == ENOENT)
		return;
	fchmodat(dir, name, 0700, 0);
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			remove_tree(dirfd(d), de->d_name);
	closedir(d);
	unlinkat(dir, name, AT_REMOVEDIR);
}

static void probe_once(void)
{
	sweep_boxes();
	probe();
}

struct box *box_open(const char *root, const struct sandbox_limits *lim)
{
	const char *tmpdir = getenv("TMPDIR");
	struct box *b = xcalloc(1, sizeof(*b));
	char *tmpl, *tmp;
	int made;

	b->root = realpath(root, NULL);
	if (!b->root) {
		error("cannot resolve %s:", root);
		free(b);
		return NULL;
	}
	if (!iso.probed && !iso.root) {
		/* the first box probes what this machine allows, with this project
		 * (the probe's own box, opened while root is set, skips this) */
		iso.root = b->root;
		pthread_once(&iso.once, probe_once);
		iso.root = NULL;
		iso.probed = 1;
	}
	b->lim = *lim;
	b->ns = iso.ns;
	b->overlay = iso.overlay;
	tmpl = xasprintf("%s/mpbuild-box.%ld.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp", (long)getpid());
	b->scratch = mkdtemp(tmpl);
	if (!b->scratch) {
		error("cannot make a scratch directory %s:", tmpl);
		free(tmpl);
		free(b->root);
		free(b);
		return NULL;
	}
	b->top = path_join(b->scratch, b->overlay ? "upper" : "tree");
	b->work = path_join(b->scratch, "work");
	tmp = path_join(b->scratch, "tmp");
	made = mkdir(b->top, 0700) == 0 && mkdir(tmp, 0700) == 0 && (!b->overlay || mkdir(b->work, 0700) == 0);
	free(tmp);
	if (!made) {
		error("cannot make %s:", b->top);
		box_close(b);
		return NULL;
	}
	if (!b->overlay) {
		int from = open(b->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int to = open(b->top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		int rc = from >= 0 && to >= 0 ? copy_tree(from, to, 1) : -1;

		if (to >= 0)
			close(to);
		if (rc < 0) {
			error("cannot copy the project to %s:", b->top);
			box_close(b);
			return NULL;
		}
	}
	return b;
}

int box_put(struct box *b, const char *rel, const void *data, size_t len)
{
	char *path = path_join(b->top, rel);
	int rc;

	/* the copy may hold the person's file (or a link) at rel: replace it */
	if (!b->overlay)
		unlink(path);
	rc = write_file_atomic(path, data, len);
	free(path);
	return rc;
}

void box_close(struct box *b)
{
	if (!b)
		return;
	if (b->scratch) {
		char *slash = strrchr(b->scratch, '/');
		int dir;

		*slash = '\0';
		dir = open(*b->scratch ? b->scratch : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dir >= 0) {
			remove_tree(dir, slash + 1);
			close(dir);
		}
		*slash = '/';
	}
	free(b->scratch);
	free(b->top);
	free(b->work);
	free(b->root);
	free(b);
}

/* kill the session of pid at the deadline and reap it */
static void kill_session(pid_t pid, int *status)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
}

/* box_run, with stderr to err when it is not NULL, else with stdout */
static int run_split(struct box *b, char *const argv[], int timeout, struct buffer *out, struct buffer *err)
{
	struct child_plan cp;
	struct child_err ce;
	int pipefd[2], errfd[2], epipe[2] = {-1, -1}, status = 0;
	double deadline = now() + timeout;
	struct pollfd pf[2] = {{-1, POLLIN, 0}, {-1, POLLIN, 0}};
	struct buffer *dst[2] = {out, err};
	pid_t pid;
	char buf[4096];
	ssize_t r;
	int rc;

	plan_child(&cp, b, argv);
	if (err && pipe2(epipe, O_CLOEXEC) < 0) {
		rc = RUN_ERROR;
		goto out;
	}
	cp.stderrfd = epipe[1];
	pf[1].fd = epipe[0];
	pid = spawn(&cp, pipefd, errfd);
	if (epipe[1] >= 0)
		close(epipe[1]);
	if (pid < 0) {
		rc = RUN_ERROR;
		goto out;
	}
	pf[0].fd = pipefd[0];
	if (read(errfd[0], &ce, sizeof(ce)) == (ssize_t)sizeof(ce)) {
		close(errfd[0]);
		waitpid(pid, &status, 0);
		if (ce.step != STEP_EXEC)
			buf_printf(err ? err : out, "[mpbuild: cannot set up the box: %s: %s]\n", step_names[ce.step],
				   strerror(ce.err));
		rc = ce.step == STEP_EXEC && ce.err == ENOENT ? RUN_NOTFOUND : RUN_ERROR;
		goto out;
	}
	close(errfd[0]);
	while (pf[0].fd >= 0 || pf[1].fd >= 0) {
		double left = deadline - now();
		int k;

		if (left <= 0) {
			kill_session(pid, &status);
			buf_printf(err ? err : out, "\n[mpbuild: killed after %d s]\n", timeout);
			rc = RUN_TIMEOUT;
			goto out;
		}
		/* poll ignores a negative fd */
		if (poll(pf, 2, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			break;
		for (k = 0; k < 2; k++) {
			if (pf[k].fd < 0 || !(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(pf[k].fd, buf, sizeof(buf));
			if (r <= 0) {
				close(pf[k].fd);
				pf[k].fd = -1;
			} else if (dst[k]->len < (8u << 20)) {
				buf_add(dst[k], buf, (size_t)r);
			}
		}
	}
	/* the pipes closed: the leader may still run, or children may hold the session */
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now() > deadline) {
			kill_session(pid, &status);
			rc = RUN_TIMEOUT;
			goto out;
		}
		usleep(10000);
	}
	kill(-pid, SIGKILL);
	rc = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
out:
	if (pf[0].fd >= 0)
		close(pf[0].fd);
	if (pf[1].fd >= 0)
		close(pf[1].fd);
	free(cp.env);
	free(cp.tmpdir);
	free(cp.ovl_opts);
	return rc;
}

int box_run(struct box *b, char *const argv[], int timeout, struct buffer *out)
{
	return run_split(b, argv, timeout, out, NULL);
}

int box_run_stdout(struct box *b, char *const argv[], int timeout, struct buffer *out, struct buffer *err)
{
	return run_split(b, argv, timeout, out, err);
}

void check_set_hash(const struct plan *p, char out[72])
{
	json_t *all = json_array();
	size_t i, j, k;
	char *s;

	for (i = 0; i < p->ntasks; i++) {
		const struct task *t = &p->tasks[i];
		json_t *e;

		if (!t->ncheck)
			continue;
		e = json_array();
		json_array_append_new(e, json_string(t->id));
		for (j = 0; j < t->ncheck; j++) {
			json_t *a = json_array();

			for (k = 0; k < t->check[j].c; k++)
				json_array_append_new(a, json_string(t->check[j].v[k]));
			json_array_append_new(e, a);
		}
		json_array_append_new(all, e);
	}
	s = json_dumps(all, JSON_COMPACT);
	sha256_hex(s, strlen(s), out);
	free(s);
	json_decref(all);
}

const char *check_tail(const char *s, int n)
{
	const char *p = s + strlen(s);

	if (p > s && p[-1] == '\n')
		p--;
	while (p > s) {
		if (p[-1] == '\n' && --n == 0)
			break;
		p--;
	}
	return p;
}
