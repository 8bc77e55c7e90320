/* load.h: what the loaders of a plan's files share (plan.c: the masterplan,
 * discovery, questions and answers; settings.c: mpbuild.yaml; rules.c: the
 * rules).  Internal to those files; everyone else calls plan.h. */
#ifndef MPBUILD_LOAD_H
#define MPBUILD_LOAD_H

#include "plan.h"
#include "yaml.h"

/* the loading context: which file, which plan */
struct ld {
	struct plan *p;
	const char *file;       /* as shown in messages */
};

/* an error for each key of mapping m that is not one of the n allowed, with a close match */
void ld_check_keys(struct ld *L, const struct ynode *m, const char *what, const char *const *allowed, size_t n);
/* 1 when n is of kind k; else an error naming what and 0 */
int ld_want(struct ld *L, const struct ynode *n, enum ykind k, const char *what);
/* a string value; NULL when absent or null (an error if required) */
const char *ld_get_str(struct ld *L, const struct ynode *m, const char *key, int required, const char *what);
/* a list of strings under key; *n set; NULL (and *n 0) for an absent or empty list or after an error */
const char **ld_get_strs(struct ld *L, const struct ynode *m, const char *key, size_t *n, const char *what);
/* the strings of list seq as an argv (an error for an item that is not a string) */
void ld_get_words(struct ld *L, const struct ynode *seq, struct argv *out);
/* a whole number from min to max under key, def when absent */
int ld_get_int(struct ld *L, const struct ynode *m, const char *key, int def, int min, int max);
/* a number of at least 0 under key, def when absent */
double ld_get_num(struct ld *L, const struct ynode *m, const char *key, double def);
/* one of the n vals under key (an error with a close match otherwise), def when absent */
const char *ld_get_enum(struct ld *L, const struct ynode *m, const char *key, const char *def,
			const char *const *vals, size_t n);
/* an error unless the mapping's version is 1 */
void ld_check_version(struct ld *L, const struct ynode *root);
/* parse root/rel into a document p owns; NULL (with *missing when it does not exist) */
struct ydoc *ld_load_doc(struct plan *p, const char *rel, int *missing);
/* the root mapping of a loaded document, or NULL after an error */
struct ynode *ld_doc_root(struct ld *L, struct ydoc *d);

/* load mpbuild.yaml into p->settings (defaults for what it does not say) */
void settings_load(struct plan *p);
/* MPBUILD_PROVIDER overrides provider: */
void settings_from_env(struct plan *p);
/* load the built-in rules and the project's rules/ (overriding by name) */
void rules_load(struct plan *p);
/* the rule an output falls under by its name, or NULL */
const struct rule *rule_for_output(const struct plan *p, const char *out);
/* free what rule r owns */
void rule_clear(struct rule *r);

#endif
