/* check.c: child processes for validators and checks.  A check is generated
 * code run by a person's approval: it gets no API key, no terminal, a time
 * limit, and its whole process group is killed when the limit passes. */
#include "check.h"
#include "hash.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

	for (i = 0; i < v->c; i++) {
		const char *s = v->v[i], *p = strstr(s, "{file}");

		a[i] = p ? xasprintf("%.*s%s%s", (int)(p - s), s, file, p + 6) : xstrdup(s);
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

int check_run(char *const argv[], const char *dir, int timeout, struct buffer *out)
{
	int pipefd[2], errfd[2], status = 0, e = 0;
	double deadline = now() + timeout;
	pid_t pid;
	char buf[4096];
	ssize_t r;

	if (pipe(pipefd) < 0 || pipe(errfd) < 0)
		return RUN_ERROR;
	fcntl(errfd[1], F_SETFD, FD_CLOEXEC);
	pid = fork();
	if (pid < 0)
		return RUN_ERROR;
	if (pid == 0) {
		char **env;
		size_t n = 0, i;
		int fd = open("/dev/null", O_RDONLY);
		struct rlimit core = {0, 0};

		setpgid(0, 0);
		setrlimit(RLIMIT_CORE, &core);
		if (fd >= 0)
			dup2(fd, 0);
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		close(errfd[0]);
		for (i = 0; environ[i]; i++)
			n++;
		env = calloc(n + 1, sizeof(*env));
		for (i = 0, n = 0; env && environ[i]; i++)
			if (!check_secret_env(environ[i]))
				env[n++] = environ[i];
		if (dir && chdir(dir) < 0)
			_exit(126);
		if (env)
			environ = env;
		execvp(argv[0], argv);
		e = errno;
		if (write(errfd[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	setpgid(pid, pid);
	close(pipefd[1]);
	close(errfd[1]);
	if (read(errfd[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
		close(errfd[0]);
		close(pipefd[0]);
		waitpid(pid, &status, 0);
		return e == ENOENT ? RUN_NOTFOUND : RUN_ERROR;
	}
	close(errfd[0]);
	for (;;) {
		struct pollfd pf = {pipefd[0], POLLIN, 0};
		double left = deadline - now();

		if (left <= 0) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(pipefd[0]);
			buf_printf(out, "\n[mpbuild: killed after %d s]\n", timeout);
			return RUN_TIMEOUT;
		}
		if (poll(&pf, 1, (int)(left * 1000) + 1) < 0 && errno != EINTR)
			break;
		if (!(pf.revents & (POLLIN | POLLHUP)))
			continue;
		r = read(pipefd[0], buf, sizeof(buf));
		if (r <= 0)
			break;
		if (out->len < (8u << 20))
			buf_add(out, buf, (size_t)r);
	}
	close(pipefd[0]);
	/* the pipe closed: the leader may still run, or children may hold the group */
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now() > deadline) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			return RUN_TIMEOUT;
		}
		usleep(10000);
	}
	kill(-pid, SIGKILL);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
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
