/* test_util.c: the crash helpers of util.c: MPBUILD_CRASH=NAME[:N] kills at
 * the N-th hit of a point and nowhere else; which temporaries a crash left
 * behind (those of a process that has gone, never a live one's or a person's
 * file); and the sweep that removes them down to a given depth. */
#include "unit.h"
#include <errno.h>
#include "helpers.h"

#include <signal.h>
#include <sys/wait.h>

/* the pid of a process that has exited and been reaped */
static long dead_pid(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return (long)pid;
}

TEST(tmp_orphaned_names)
{
	char *dead = xasprintf("a.c.mpbuild-tmp.%ld", dead_pid());
	char *mine = xasprintf("a.c.mpbuild-tmp.%ld", (long)getpid());
	char *parent = xasprintf("a.c.mpbuild-tmp.%ld", (long)getppid());

	CHECK(tmp_orphaned(dead));
	CHECK(!tmp_orphaned(mine));
	CHECK(!tmp_orphaned(parent));
	CHECK(!tmp_orphaned("a.c"));
	CHECK(!tmp_orphaned("a.c.mpbuild-new"));
	CHECK(!tmp_orphaned("a.c.mpbuild-old"));
	CHECK(!tmp_orphaned("a.c.mpbuild-tmp."));
	CHECK(!tmp_orphaned("a.c.mpbuild-tmp.12x"));
	CHECK(!tmp_orphaned("a.c.mpbuild-tmp.0"));
	CHECK(!tmp_orphaned("a.c.mpbuild-tmp.-5"));
	free(dead);
	free(mine);
	free(parent);
}

TEST(tmp_sweep_depth)
{
	char *d = tmp_dir(), *dead = xasprintf("x.mpbuild-tmp.%ld", dead_pid());
	char *mine = xasprintf("x.mpbuild-tmp.%ld", (long)getpid());
	char *top = xasprintf("top/%s", dead), *one = xasprintf("top/a/%s", dead), *two = xasprintf("top/a/b/%s", dead);
	char *live = xasprintf("top/a/%s", mine), *p;

	put_file(d, top, "1");
	put_file(d, one, "2");
	put_file(d, two, "3");
	put_file(d, live, "4");
	put_file(d, "top/a/keep.c", "5");
	p = path_join(d, "top");
	CHECK(tmp_sweep(p, 1) == 2);
	free(p);
	p = path_join(d, top);
	CHECK(!path_exists(p));
	free(p);
	p = path_join(d, one);
	CHECK(!path_exists(p));
	free(p);
	p = path_join(d, two);
	CHECK(path_exists(p));          /* below the depth */
	free(p);
	p = path_join(d, live);
	CHECK(path_exists(p));          /* this process is alive */
	free(p);
	p = path_join(d, "top/a/keep.c");
	CHECK(path_exists(p));
	free(p);
	p = path_join(d, "nowhere");
	CHECK(tmp_sweep(p, 3) == 0);
	free(p);
	rm_rf(d);
	free(d);
	free(dead);
	free(mine);
	free(top);
	free(one);
	free(two);
	free(live);
}

/* how a child that sets MPBUILD_CRASH=env and hits point p `hits` times ends:
 * -1 when killed by SIGKILL, else its exit status.  This file calls
 * crashpoint nowhere else, so the child reads the variable afresh. */
static int crash_child(const char *env, int hits)
{
	pid_t pid = fork();
	int status, i;

	if (pid == 0) {
		setenv("MPBUILD_CRASH", env, 1);
		crashpoint("other");
		for (i = 0; i < hits; i++)
			crashpoint("p");
		_exit(0);
	}
	waitpid(pid, &status, 0);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 99;
}

TEST(crashpoint_kills_at_the_nth_hit)
{
	CHECK(crash_child("p", 1) == -1);
	CHECK(crash_child("p:2", 1) == 0);
	CHECK(crash_child("p:2", 2) == -1);
	CHECK(crash_child("p:3", 2) == 0);
	CHECK(crash_child("q", 5) == 0);
	CHECK(crash_child("", 5) == 0);
}

TEST(crashpoint_bad_count_is_a_warning)
{
	char *err;

	capture_begin();
	CHECK(crash_child("p:0", 5) == 0);
	CHECK(crash_child("p:x", 5) == 0);
	CHECK(crash_child("p:", 5) == 0);
	err = capture_end();
	CHECK_STR(err, "mpbuild: warning: MPBUILD_CRASH=p:0: expected NAME or NAME:N with N >= 1; ignored\n"
		       "mpbuild: warning: MPBUILD_CRASH=p:x: expected NAME or NAME:N with N >= 1; ignored\n"
		       "mpbuild: warning: MPBUILD_CRASH=p:: expected NAME or NAME:N with N >= 1; ignored\n");
	free(err);
}

/* a temporary name planted as a link is an attack: never written through */
/* (after the crashpoint tests: write_file_atomic reads MPBUILD_CRASH once) */
TEST(atomic_write_refuses_a_planted_temporary)
{
	char *d = tmp_dir(), *victim = path_join(d, "victim"), *dst = path_join(d, "mpbuild.lock");
	char *tmp = xasprintf("%s.mpbuild-tmp.%ld", dst, (long)getpid());
	struct buffer b = {0};

	put_file(d, "victim", "precious\n");
	CHECK(symlink(victim, tmp) == 0);
	CHECK(write_file_atomic(dst, "evil\n", 5) < 0 && errno == EEXIST);
	CHECK(read_file(victim, &b, 100) == 0 && strcmp(buf_str(&b), "precious\n") == 0);
	CHECK(!path_exists(dst));
	CHECK(unlink(tmp) == 0);
	CHECK(write_file_atomic(dst, "new\n", 4) == 0);
	buf_free(&b);
	rm_rf(d);
	free(d);
	free(victim);
	free(dst);
	free(tmp);
}

/* a table that owns its keys and values gives them all back (LSan checks it),
 * after growing past its first size; a NULL free_val leaves the values */
TEST(htab_free_owned_frees_keys_and_values)
{
	struct htab h = {0}, k = {0};
	int kept = 7;
	size_t i;

	for (i = 0; i < 100; i++) {
		char *key = xasprintf("key %zu", i), *val = xasprintf("value %zu", i);

		htab_put(&h, key, val);
		htab_put(&k, xstrdup(key), &kept);
	}
	CHECK(h.n == 100 && strcmp(htab_get(&h, "key 42"), "value 42") == 0);
	htab_free_owned(&h, free);
	CHECK(h.cap == 0 && h.keys == NULL);
	htab_free_owned(&k, NULL);
	CHECK(kept == 7);
}
